from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from iapo_cli.llm import ClientSettings, CompletionCache, LLMClient
from iapo_cli.tasks import AnswerExtractor, Sample, ScoringError, build_scorer, normalise


def sample(text: str, target: str | None = "12", tokens: float = 10) -> Sample:
    return Sample(text, {"q": "x"}, target, "prompt", tokens)


def build(kind, params=None, value_range=None, extractor=None, base=Path("."), judge=None):
    return build_scorer(kind, params or {}, value_range, extractor, base, judge)


def test_exact_and_numeric_match():
    samples = [sample("Answer: 12"), sample("Answer: 12.0"), sample("Answer: 13"),
               sample("no answer"), sample("Answer: 12", target=None)]
    exact = build("exact_match", extractor=AnswerExtractor())
    assert exact.score(samples).tolist() == [1, 1, 0, 0, 0]
    numeric = build("numeric_match", {"tolerance": 1.5})
    assert numeric.score(samples).tolist() == [1, 1, 1, 0, 0]


def test_regex_contains_and_length():
    samples = [sample("The answer is 12"), sample("nothing here", tokens=300)]
    assert build("regex_match", {"pattern": r"\d+"}).score(samples).tolist() == [1, 0]
    assert build("contains").score(samples).tolist() == [1, 0]
    assert build("contains", {"text": "NOTHING"}).score(samples).tolist() == [0, 1]
    length = build("length", {"max_tokens": 200})
    assert length.range == (0.0, 200.0)
    assert normalise(length.score(samples), length.range).tolist() == [0.05, 1.0]


def test_python_scorer_runs_the_named_function(tmp_path):
    (tmp_path / "my_scores.py").write_text("def score(text, row):\n    return len(text)\n")
    scorer = build("python:my_scores:score", value_range=(0, 100), base=tmp_path)
    assert scorer.score([sample("abcd")]).tolist() == [4.0]
    (tmp_path / "broken.py").write_text("def score(text, row):\n    raise KeyError('x')\n")
    with pytest.raises(ScoringError, match="KeyError"):
        build("python:broken:score", value_range=(0, 1), base=tmp_path).score([sample("a")])


@pytest.mark.parametrize("kind, params, value_range, message", [
    ("python:nowhere:fn", {}, (0, 1), "cannot import 'nowhere'"),
    ("python:my_scores", {}, (0, 1), "must name module:function"),
    ("python:os:fn", {}, None, "needs 'range'"),
    ("regex_match", {"pattern": "("}, None, "bad pattern"),
    ("length", {"bogus": 1}, None, "bad params for 'length'"),
    ("llm_judge", {}, None, "needs params.model"),
    ("bleu", {}, None, "unknown scorer 'bleu'"),
])
def test_scorer_config_errors(kind, params, value_range, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        build(kind, params, value_range, base=tmp_path)


def test_llm_judge_rates_through_the_cached_client(loopback, tmp_path, api_key):
    clients = []

    def judge(settings):
        client = LLMClient(ClientSettings(api_base=loopback.url, **settings),
                           CompletionCache(tmp_path / "cache"))
        clients.append(client)
        return client

    scorer = build("llm_judge", {"model": "openai/judge"}, judge=judge)
    samples = [sample("Answer: 12"), sample("Answer: 11")]
    ratings = scorer.score(samples)
    assert scorer.range == (1.0, 10.0)
    assert np.all((ratings >= 1) & (ratings <= 10))
    assert loopback.requests == 2
    assert scorer.score(samples).tolist() == ratings.tolist()
    assert loopback.requests == 2  # cached
    assert clients[0].usage["judge"].cached == 2


def test_a_python_scorer_must_return_a_finite_number(tmp_path):
    # issue 10: NaN passed silently into the estimates; sys.exit(3) escaped as exit 3
    (tmp_path / "odd.py").write_text(
        "import sys\nimport numpy as np\n"
        "def np32(text, row): return np.float32(0.5)\n"
        "def flag(text, row): return text == 'a'\n"
        "def nan(text, row): return float('nan')\n"
        "def word(text, row): return '0.5'\n"
        "def leave(text, row): sys.exit(3)\n")
    build_odd = lambda fn: build(f"python:odd:{fn}", value_range=(0, 1), base=tmp_path)  # noqa: E731
    assert build_odd("np32").score([sample("a")]).tolist() == [0.5]
    assert build_odd("flag").score([sample("a"), sample("b")]).tolist() == [1.0, 0.0]
    for fn, message in [("nan", "returned nan, not a finite number"),
                        ("word", "returned str '0.5', not a number"),
                        ("leave", "failed: SystemExit: 3")]:
        with pytest.raises(ScoringError, match=message):
            build_odd(fn).score([sample("a")])
