"""``record`` into a replay file, then optimize and bench on it with no server."""

from __future__ import annotations

import numpy as np
import pytest

from iapo_cli.backends import load_replay
from iapo_cli.errors import ConfigError
from iapo_cli.run import optimize, record, validate
from tests.conftest import live_config, write_config, write_sums


def test_record_then_replay_without_network(tmp_path, loopback, api_key):
    data = write_sums(tmp_path / "sums.jsonl", count=30)
    config = live_config(tmp_path / "live.yaml", loopback.url, data, prompts=3)
    split = validate(config).problem.train
    seen = []
    outcome = record(config, 4, tmp_path / "r.npz", progress=seen.append)
    assert outcome.completions == 3 * len(split) * 4 == sum(seen)
    assert loopback.completions == outcome.completions
    assert loopback.requests == 3 * len(split)  # one n=4 request per (prompt, query)
    again = record(config, 4, tmp_path / "r2.npz")
    assert loopback.requests == 3 * len(split)  # resumable: all from the cache
    assert again.usage["completion"]["cached"] == again.completions

    with np.load(tmp_path / "r.npz") as f:
        assert f["text"].shape == (outcome.completions,)
        correct = f["scores"][:, 0]
        assert set(np.unique(correct)) <= {0.0, 1.0} and 0 < correct.mean() < 1
    env = load_replay(tmp_path / "r.npz", n_max=8)
    assert env.backend.prompt_ids == ("p0", "p1", "p2") and env.backend.n_queries == len(split)

    replay = write_config(tmp_path / "replay.yaml", """\
name: replayed
backend: {kind: replay, path: r.npz, n_max: 8}
contexts:
  - {name: free, weights: {correct: 1.0, cost: 0.0}}
budget: 300
""")
    loopback.fail_always = "500"  # the replay must not touch the server
    before = loopback.requests
    run = optimize(replay, out=tmp_path / "run")
    assert run.result.spent == 300 and loopback.requests == before


def test_record_needs_a_live_backend(tmp_path):
    from tests.conftest import SMALL_SYNTHETIC

    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    with pytest.raises(ConfigError, match="backend.kind: iapo record needs a live backend"):
        record(config, 4)


@pytest.mark.parametrize("out", ["adir", "afile/r.npz"])
def test_a_bad_out_path_is_bad_input_before_any_completion(tmp_path, loopback, api_key, out):
    # campaign: `--out DIR` or a path under a file crashed after paying every completion
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    data = write_sums(tmp_path / "sums.jsonl", count=10)
    config = live_config(tmp_path / "live.yaml", loopback.url, data, prompts=2)
    with pytest.raises(ConfigError) as err:
        record(config, 2, tmp_path / out)
    assert err.value.field == "--out"
    assert loopback.completions == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile", "live.yaml",
                                                          "sums.jsonl"]
