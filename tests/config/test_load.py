"""Config errors: one line naming the file, the field and what is wrong (pinned text)."""

import pytest

from iapo_cli.errors import ConfigError
from iapo_cli.run import validate
from tests.conftest import SMALL_SYNTHETIC, write_config


def error_of(tmp_path, text):
    path = write_config(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError) as err:
        validate(path)
    message = str(err.value)
    assert "\n" not in message
    return message.removeprefix(f"{path}: ")


def replace(old, new):
    assert old in SMALL_SYNTHETIC
    return SMALL_SYNTHETIC.replace(old, new)


CASES = [
    ("name: [\n", "line 2, column 1: malformed YAML (expected the node content, but found "
                  "'<stream end>')"),
    ("- a\n- b\n", "the top level must be a mapping of keys to values"),
    (SMALL_SYNTHETIC + "colour: red\n", "colour: unknown key"),
    (replace("budget: 600", "budget: lots"),
     "budget: input should be a valid integer, unable to parse string as an integer"),
    (replace("budget: 600", "budget: 0"), "budget: input should be greater than 0"),
    (replace("budget: 600", "budget: 5"),
     "budget: 5 is smaller than one pull at N=1 per prompt (6 prompts need 6)"),
    (replace("budget: 600", "budget: 600\nprompts: []"), "prompts: must not be empty"),
    (replace("budget: 600", "budget: 600\nprompts: [{id: a}, {id: a}]"),
     "prompts: duplicate prompt id 'a'"),
    (replace("budget: 600", "budget: 600\nprompts: [{id: a}, {id: b}]"),
     "prompts: lists 2 prompts but the backend has 6"),
    (replace("budget: 600", "budget: 600\nscales: [1, 9]"),
     "scales[1]: 9 is outside 1..8 (the backend's n_max)"),
    (replace("budget: 600", "budget: 600\nscales: [0]"),
     "scales[0]: 0 is outside 1..8 (the backend's n_max)"),
    (replace("budget: 600", "budget: 600\nscales: some"), "scales: must be 'max' or a list of "
                                                          "integers"),
    (replace("cost: 2.0}", "cost: 2.0, fluency: 1}"),
     "contexts[1].weights: unknown objective 'fluency' (objectives: correct, cost)"),
    (replace("cost: 2.0}", "cost: -2.0}"),
     "contexts[1].weights.cost: the cost weight must be >= 0 (it multiplies O_cost = -cost)"),
    (replace("name: costly", "name: free"), "contexts: duplicate context name 'free'"),
    (replace("family: bernoulli-mv", "family: nope"),
     "backend.family: unknown synthetic family 'nope' (known: bernoulli-mv, bon-grid)"),
    (replace("kind: synthetic, family: bernoulli-mv, prompts: 6, queries: 60, n_max: 8, "
             "seed: 3", "kind: categorical, path: missing.npz"),
     "backend.path: file not found: {dir}/missing.npz"),
    (replace("budget: 600", "budget: 600\nstrategy: best_of_n"),
     "strategy: the synthetic backend uses 'majority_vote', not 'best_of_n'"),
    (replace("budget: 600", "budget: 600\nalgorithm: {name: magic}"),
     "algorithm: unknown algorithm 'magic' (known: psst, psst_topk, uniform, triple_n1, "
     "triple_random_n, epsilon_greedy, softmax, ucb, sequential_halving)"),
    (replace("budget: 600", "budget: 600\nalgorithm: {name: psst, params: {rho: 2}}"),
     "algorithm: rho must lie in (0, 1), got 2"),
    (replace("seed: 1", "seed: -1"), "seed: input should be greater than or equal to 0"),
    # campaign: NaN and infinity passed as weights (NaN utilities) and client delays
    (replace("cost: 2.0}", "cost: .nan}"), "contexts[1].weights.cost: input should be a "
                                            "finite number"),
    (replace("correct: 1.0, cost: 0.0", "correct: .inf, cost: 0.0"),
     "contexts[0].weights.correct: input should be a finite number"),
    # campaign: a non-mapping section named a Python class
    (replace("budget: 600", "budget: 600\nalgorithm: psst"),
     "algorithm: must be a mapping of keys to values"),
    (replace("seed: 1", "seed: 1\ncost: money"), "cost: must be a mapping of keys to values"),
    (replace("seed: 3", "seed: -3"),
     "backend.seed: input should be greater than or equal to 0"),
    (replace("budget: 600", "budget: 600\nalgorithm: {name: ucb, params: {batches: many}}"),
     "algorithm: batches must be an integer, got 'many'"),
    (replace("budget: 600", "budget: 600\ncontexts: {grid: {cost: []}}").replace(
        "contexts:\n  - {name: free, weights: {correct: 1.0, cost: 0.0}}\n"
        "  - {name: costly, weights: {correct: 1.0, cost: 2.0}}\n", ""),
     "contexts.grid: 'cost' has no values"),
]


@pytest.mark.parametrize("text, message", CASES)
def test_error_messages(tmp_path, text, message):
    assert error_of(tmp_path, text) == message.format(dir=tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: file not found$"):
        validate(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    text = SMALL_SYNTHETIC.replace("name: small", "name: !!python/object/apply:os.system [ls]")
    assert "malformed YAML" in error_of(tmp_path, text)


def test_grid_contexts_form_the_cartesian_product(tmp_path):
    text = SMALL_SYNTHETIC.split("contexts:")[0] + (
        "contexts:\n  grid: {correct: [1.0, 0.5], cost: [0, 1, 2]}\nbudget: 600\n")
    resolved = validate(write_config(tmp_path / "g.yaml", text))
    contexts = resolved.problem.contexts
    assert len(contexts) == 6
    assert contexts.names[0] == "correct=1,cost=0"
    assert contexts.probabilities.sum() == pytest.approx(1.0)


def test_overrides_are_checked(tmp_path):
    path = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    with pytest.raises(ConfigError, match=r"--budget: 3 is smaller than one pull"):
        validate(path, budget=3)


# -- every problem of a file, one line each --------------------------------------------------

def errors_of(tmp_path, text):
    path = write_config(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError) as err:
        validate(path)
    assert str(err.value).splitlines() == [str(p) for p in err.value.errors]
    return [line.removeprefix(f"{path}: ") for line in str(err.value).splitlines()]


def test_every_independent_mistake_is_reported(tmp_path):
    text = replace("budget: 600", "budget: 0\ncolour: red").replace(
        "seed: 3}", "seed: 3, timeout: 5}")
    assert errors_of(tmp_path, text) == [
        "backend.timeout: unknown key for kind 'synthetic'",  # the deepest first, as always
        "budget: input should be greater than 0",
        "colour: unknown key",
    ]


def test_a_union_reports_one_problem_per_field(tmp_path):
    assert errors_of(tmp_path, replace("budget: 600", "budget: 600\nscales: [1, x, y]")) == [
        "scales[1]: input should be a valid integer, unable to parse string as an integer"]
    text = replace("budget: 600", "budget: 600\nscales: some\noutput: [x]")
    assert errors_of(tmp_path, text) == ["scales: must be 'max' or a list of integers",
                                         "output: input should be a valid string"]


@pytest.mark.parametrize("backend, message", [
    ("{kind: lve, model: m}",
     "backend.kind: unknown kind 'lve' (known: categorical, synthetic, live, replay)"),
    ("{model: m}", "backend.kind: is required"),
    ("{kind: live}", "backend.model: is required"),
    ("{kind: categorical, path: ''}", "backend.path: string should have at least 1 character"),
    ("{kind: live, model: m, retry_max_delay: -1}",
     "backend.retry_max_delay: input should be greater than or equal to 0"),
    ("{kind: live, model: m, max_n: 0}", "backend.max_n: input should be greater than or "
                                         "equal to 1"),
])
def test_backend_messages(tmp_path, backend, message):
    text = SMALL_SYNTHETIC.replace(SMALL_SYNTHETIC.splitlines()[1], f"backend: {backend}")
    assert errors_of(tmp_path, text) == [message]


def test_a_key_given_twice_is_refused_with_its_lines(tmp_path):
    # issue 10: YAML kept the last of two `budget:` lines silently
    text = SMALL_SYNTHETIC + "budget: 900\n"
    assert error_of(tmp_path, text) == ("budget: line 8: the key is given twice (first on "
                                        "line 6); YAML would silently keep the last")
    nested = SMALL_SYNTHETIC.replace("seed: 3}", "seed: 3, seed: 4}")
    assert error_of(tmp_path, nested).startswith("backend.seed: line 2: the key is given "
                                                 "twice (first on line 2)")


def test_a_byte_order_mark_and_anchors_are_read(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(SMALL_SYNTHETIC.replace("seed: 1", "seed: &s 1\nsplit: {test_fraction: "
                                            "0.25}"), encoding="utf-8-sig")
    assert validate(path).config.seed == 1
