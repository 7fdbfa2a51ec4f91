"""The comparisons of runs with several models or prices (issue 11)."""

import numpy as np

from iapo_cli.evaluation import best_model_choice, cheapest_near_best

SCALES = np.array([1, 2, 4])


def test_best_single_model_at_n1_weighs_contexts_by_probability():
    # arms: (a, small), (b, small), (a, large); 2 contexts
    train = np.full((2, 3, 3), np.nan)
    train[:, :, 0] = [[0.2, 0.6, 0.5],   # context 0: small's best is b (0.6)
                      [0.9, 0.1, 0.5]]   # context 1: small's best is a (0.9)
    models = ("small", "small", "large")
    choice = best_model_choice(train, SCALES, np.array([0.5, 0.5]), models)
    assert list(choice.prompt) == [1, 0] and list(choice.scale) == [1, 1]
    # large wins when small is bad where most of the traffic is
    train[1, 0, 0] = 0.0
    choice = best_model_choice(train, SCALES, np.array([0.1, 0.9]), models)
    assert list(choice.prompt) == [2, 2]


def test_cheapest_within_one_point():
    task = np.array([[[0.50, 0.80, 0.895], [0.70, 0.90, 0.905]]])  # (1, 2, 3)
    price = np.array([[[1.0, 2.0, 4.0], [10.0, 20.0, 40.0]]])
    choice = cheapest_near_best(task, price, SCALES)
    assert (choice.prompt[0], choice.scale[0]) == (0, 4)  # 0.895 >= 0.905 - 0.01, cheapest
    choice = cheapest_near_best(task, price, SCALES, point=0.001)
    assert (choice.prompt[0], choice.scale[0]) == (1, 4)
    price[0, 0, 2] = np.nan  # unpriced arms are never the cheapest
    choice = cheapest_near_best(task, price, SCALES)
    assert (choice.prompt[0], choice.scale[0]) == (1, 2)
    price[:] = np.nan  # nothing priced: the best arm
    choice = cheapest_near_best(task, price, SCALES)
    assert (choice.prompt[0], choice.scale[0]) == (1, 4)
