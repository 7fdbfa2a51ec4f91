import pytest

from iapo_cli.errors import ConfigError
from iapo_cli.run import parse_algorithms


def test_names_and_parameters():
    specs = parse_algorithms("psst, psst_topk(k=3,rho=0.1),ucb(c=0.3),psst(screen=never)")
    assert [s.label for s in specs] == ["psst", "psst_topk(k=3,rho=0.1)", "ucb(c=0.3)",
                                        "psst(screen=never)"]
    assert specs[1].params == (("k", 3), ("rho", 0.1))
    built = specs[1].build()
    assert (built.k, built.rho, built.screen) == (3, 0.1, "always")
    assert parse_algorithms("psst_topk(rho=5e-2)")[0].params == (("rho", 0.05),)


@pytest.mark.parametrize("text, message", [
    ("psst,magic", "unknown algorithm 'magic' (known: psst, psst_topk,"),
    ("psst(k=3", "unbalanced '(' in 'psst(k=3'"),
    ("psst)", "unbalanced ')' in 'psst)'"),
    ("psst(k)", "expected key=value in 'psst(k)', got 'k'"),
    ("psst_topk(k=0)", "psst_topk: k must be at least 1, got 0"),
    ("ucb(d=1)", "bad parameters for ucb: UCB.__init__() got an unexpected keyword argument"),
    ("psst(k=3)x", "expected NAME(key=value,...), got 'psst(k=3)x'"),
    ("psst,psst", "'psst' is listed twice"),
    (" , ", "needs at least one algorithm"),
])
def test_bad_input_names_the_flag(text, message):
    with pytest.raises(ConfigError) as err:
        parse_algorithms(text)
    assert err.value.field == "--algorithms"
    assert err.value.detail.startswith(message)
