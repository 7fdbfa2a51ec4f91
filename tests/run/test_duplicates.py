"""Issue 10, item 5: rows with the same question keep samples of their own, so a live run
reproduces from its own cache and evaluate's test samples are never training samples;
duplicate rows are refused unless dataset.duplicates says otherwise."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from iapo_cli.errors import ConfigError
from iapo_cli.run import evaluate, optimize, validate
from tests.conftest import live_config, run_cli, write_sums


def _twice(path, count=20):
    """A dataset of ``count`` questions, each twice (rows i and count + i, distinct ids)."""
    rows = [json.loads(line) for line in write_sums(path, count=count).read_text().splitlines()]
    rows += [{**row, "id": f"again-{row['id']}"} for row in rows]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def twice(tmp_path, loopback, api_key):
    config = live_config(tmp_path / "live.yaml", loopback.url, _twice(tmp_path / "d.jsonl"),
                         budget=300)
    text = config.read_text()
    assert "id_field: id}" in text
    config.write_text(text.replace("id_field: id}", "id_field: id, duplicates: keep}"))
    return config, loopback


def test_a_run_with_duplicate_questions_reproduces_from_its_own_cache(twice, tmp_path):
    config, server = twice
    first = optimize(config, out=tmp_path / "run1")
    assert server.completions == 300
    again = optimize(config, out=tmp_path / "run2")
    assert server.completions == 300  # nothing fresh
    assert again.usage["this_attempt"]["completion"]["fresh"] == 0
    estimates = [pd.read_csv(tmp_path / run / "estimates.csv") for run in ("run1", "run2")]
    pd.testing.assert_frame_equal(*estimates)  # before: estimates of repeated rows differed
    assert again.result.policy.frame().equals(first.result.policy.frame())


def test_evaluate_never_reuses_a_training_sample(twice, tmp_path):
    config, server = twice
    outcome = optimize(config, out=tmp_path / "run")
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    twins = {x % 20 for x in split["train"]} & {x % 20 for x in split["test"]}
    assert twins  # test questions that training pulled under another row
    served = server.completions
    evaluation = evaluate(outcome.run_dir)
    usage = evaluation.usage["completion"]
    assert usage["cached"] == 0  # before: test rows got their twins' training samples
    assert usage["fresh"] == evaluation.spent == server.completions - served


def test_duplicate_rows_are_refused_by_default(tmp_path, loopback, api_key):
    config = live_config(tmp_path / "live.yaml", loopback.url, _twice(tmp_path / "d.jsonl"))
    with pytest.raises(ConfigError) as info:
        validate(config)
    assert info.value.field == "dataset.duplicates"
    code, out, err = run_cli("optimize", config)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {config}: dataset.duplicates: 20 of 40 rows repeat an "
                          "earlier row in what the prompts show (question), e.g. row "
                          "'again-s0' repeats 's0'; set it to drop")
    assert not (tmp_path / "runs").exists() and loopback.requests == 0

    config.write_text(config.read_text().replace("id_field: id}",
                                                 "id_field: id, duplicates: drop}"))
    resolved = validate(config)
    assert resolved.problem.backend.n_queries == 20
    assert resolved.problem.backend.dataset.ids == tuple(f"s{i}" for i in range(20))
