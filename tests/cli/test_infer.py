"""``iapo infer``: a trained run's arm answers the rows of a file (issue 12's shell bars),
against the two-model loopback server."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from iapo_cli.run import Policy
from tests.conftest import run_cli
from tests.run.money_project import server_usd, trained_money_run


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A loopback server and a run trained on it (200 completions)."""
    directory = tmp_path_factory.mktemp("infer")
    with trained_money_run(directory, seed=5) as (server, run):
        yield server, run, directory


def _rows(path: Path, count: int, offset: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{i}", "question": f"What is {offset + i} + 7?"})
                            + "\n" for i in range(count)))
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_200_rows_are_answered_by_majority_vote_and_a_rerun_pays_nothing(project, tmp_path):
    server, run, _ = project
    rows = _rows(tmp_path / "in.jsonl", 200, offset=1000)
    arm = Policy.load(run).arm("frugal")
    before = server.completions
    code, _, err = run_cli("infer", run, "--context", "frugal", "--input", rows,
                           "--out", tmp_path / "out.jsonl", "--completions")
    assert code == 0, err
    assert server.completions == before + 200 * arm.n
    lines = _lines(tmp_path / "out.jsonl")
    assert [line["id"] for line in lines] == [f"r{i}" for i in range(200)]
    backend = arm._backend
    for line in lines:  # the majority of the answers extracted from the same samples
        assert len(line["completions"]) == arm.n == line["n"]
        answers = [backend.extractor.extract(text) for text in line["completions"]]
        counts = Counter(a for a in answers if a is not None)
        top = max(counts.values())
        leaders = [a for a in dict.fromkeys(answers) if a is not None and counts[a] == top]
        assert line["answer"] == leaders[0] and line["tied"] == (len(leaders) > 1)
        assert line["vote_share"] == top / arm.n and line["usd"] > 0
    assert f"answered 200/200 rows with {arm.arm} at N={arm.n} (majority_vote, context " \
           f"frugal, {arm.samples} training samples behind it)" in err
    requests = server.requests
    code, _, err = run_cli("infer", run, "--context", "frugal", "--input", rows,
                           "--out", tmp_path / "again.jsonl", "--completions")
    assert code == 0, err
    assert server.requests == requests  # a rerun makes 0 requests
    again = _lines(tmp_path / "again.jsonl")
    assert [a["answer"] for a in again] == [a["answer"] for a in lines]
    assert all(a["cached"] == arm.n for a in again)
    assert "0 completions paid, " in err


def test_answers_go_to_stdout_without_out_and_weights_choose_an_arm(project, tmp_path):
    server, run, _ = project
    rows = _rows(tmp_path / "in.csv", 0, 0)
    rows.write_text("id,question\nx1,What is 3 + 4?\nx2,What is 5 + 6?\n")
    code, out, err = run_cli("infer", run, "--weights", "correct=1,cost=0.5", "--input", rows)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == ["x1", "x2"]
    assert "context correct=1,cost=0.5" in err


def test_caps_stop_before_paying_more_and_a_rerun_continues(project, tmp_path):
    server, run, _ = project
    rows = _rows(tmp_path / "in.jsonl", 30, offset=5000)
    arm = Policy.load(run).arm("accuracy-first")
    before = server.completions
    code, _, err = run_cli("infer", run, "--context", "accuracy-first", "--input", rows,
                           "--out", tmp_path / "out.jsonl", "--max-completions",
                           5 * arm.n + arm.n - 1)
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"error: stopped at --max-completions {6 * arm.n - 1}: 5 of 30 rows answered "
        f"(written to {tmp_path / 'out.jsonl'}); raise the cap and rerun: completions "
        f"already received come from the cache")
    assert server.completions == before + 5 * arm.n
    assert len(_lines(tmp_path / "out.jsonl")) == 5
    # USD: what the server bills never exceeds the cap
    billed = server_usd(server.served)
    code, _, err = run_cli("infer", run, "--context", "accuracy-first", "--input", rows,
                           "--out", tmp_path / "out.jsonl", "--max-usd", 0.01)
    assert code == 1 and "stopped at --max-usd 0.01" in err
    assert 0 < server_usd(server.served) - billed <= 0.01  # the 5 cached rows are free
    answered = len(_lines(tmp_path / "out.jsonl"))
    assert 5 < answered < 30
    served = server.completions
    code, _, err = run_cli("infer", run, "--context", "accuracy-first", "--input", rows,
                           "--out", tmp_path / "out.jsonl")
    assert code == 0, err
    assert server.completions == served + (30 - answered) * arm.n  # nothing paid twice
    assert len(_lines(tmp_path / "out.jsonl")) == 30


def test_ctrl_c_midway_then_a_rerun_finishes_without_paying_twice(project, tmp_path):
    server, run, _ = project
    rows = _rows(tmp_path / "in.jsonl", 200, offset=9000)
    arm = Policy.load(run).arm("frugal")
    before = server.completions
    server.latency = 0.02
    out = tmp_path / "out.jsonl"

    def interrupt() -> None:  # Ctrl-C once some rows are answered, in this process
        deadline = time.monotonic() + 60
        while server.completions < before + 80 * arm.n and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGINT)

    stopper = threading.Thread(target=interrupt)
    stopper.start()
    code, _, err = run_cli("infer", run, "--context", "frugal", "--input", rows, "--out", out,
                           "--concurrency", "4")
    stopper.join()
    server.latency = 0.0
    assert code == 130, err
    assert "rerun the same command to finish" in err
    first = server.completions - before
    assert first < 200 * arm.n
    written = _lines(out)  # whole lines only, in input order
    assert [line["id"] for line in written] == [f"r{i}" for i in range(len(written))]
    code, _, err = run_cli("infer", run, "--context", "frugal", "--input", rows, "--out", out)
    assert code == 0, err
    assert server.completions - before == 200 * arm.n  # every slot paid exactly once
    assert len(_lines(out)) == 200


@pytest.mark.parametrize(("args", "message"), [
    (["--input", "{missing}"], "{missing}: --input: file not found: {missing}"),
    (["--input", "{bad}"], "{bad}: --input: {bad} line 2: not JSON (Expecting value)"),
    (["--input", "{nofield}"],
     "{nofield}: --input: row q1: cannot render the template of '{frugal}' for this row: "
     "it has no field 'question'"),
    (["--input", "{good}", "--context", "nope"],
     "context: unknown context 'nope' (the run has: accuracy-first, frugal, capped)"),
    (["--input", "{good}", "--weights", "correct"],
     "--weights: 'correct' is not name=number (e.g. correct=1,cost=0.2)"),
    (["--input", "{good}", "--weights", "kindness=1"],
     "weights: unknown objective 'kindness' (objectives: correct, cost)"),
    (["--input", "{good}", "--out", "{dir}"], "--out: {dir} is not a file"),
    (["--input", "{good}", "--max-usd", "-1"], "--max-usd: must be a positive number of USD"),
    (["--input", "{good}", "--max-completions", "0"],
     "--max-completions: must be at least 1, got 0"),
])
def test_bad_input_is_one_line_before_anything_is_sent(project, tmp_path, args, message):
    server, run, _ = project
    paths = {"missing": tmp_path / "none.jsonl", "bad": tmp_path / "bad.jsonl",
             "nofield": tmp_path / "nofield.jsonl", "good": tmp_path / "good.jsonl",
             "dir": tmp_path, "frugal": Policy.load(run).arm("frugal").arm}
    paths["bad"].write_text('{"question": "a"}\nnot json\n')
    paths["nofield"].write_text('{"id": "q1", "text": "a"}\n')
    paths["good"].write_text('{"question": "What is 1 + 1?"}\n')
    args = [a.format(**paths) for a in args]
    if "--context" not in args and "--weights" not in args:
        args += ["--context", "frugal"]
    requests = server.requests
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli("infer", run, *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message.format(**paths)}")
    assert server.requests == requests and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
