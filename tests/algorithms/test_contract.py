"""The algorithm contract's parameter checks: wrong types are AlgorithmParameterErrors."""

import pytest

from iapo_cli.algorithms import PSST, UCB, AlgorithmParameterError, make_algorithm


@pytest.mark.parametrize("name, params, message", [
    ("psst", {"rho": "abc"}, "rho must be a number, got 'abc'"),
    ("psst", {"rounds": 2.0}, "rounds must be an integer, got 2.0"),
    ("psst", {"k": True}, "k must be an integer, got True"),
    ("psst", {"schedule": 3}, "schedule must be a string, got 3"),
    ("ucb", {"c": float("nan")}, "c must be a finite number, got nan"),
    ("epsilon_greedy", {"batches": None}, "batches must be an integer, got None"),
])
def test_wrong_types_are_parameter_errors(name, params, message):
    with pytest.raises(AlgorithmParameterError) as err:
        make_algorithm(name, **params)
    assert err.value.detail == message


def test_direct_construction_is_checked_before_running():
    with pytest.raises(AlgorithmParameterError, match="rho must be a number"):
        PSST(rho="0.1").check_params()
    UCB(c=1, batches=3).check_params()  # an int is a number
    PSST(rounds=None, screen=None).check_params()  # None where the default is None
