"""RunDir and StudyDir: file names in one place, atomic writes, one reading rule."""

import json

import numpy as np
import pandas as pd
import pytest

from iapo_cli.artifacts import RUN_FILES, RunDir, StudyDir
from iapo_cli.errors import ConfigError
from iapo_cli.report import write_report
from iapo_cli.run import evaluate, optimize
from tests.conftest import SMALL_SYNTHETIC, write_config


@pytest.fixture(scope="module")
def run_path(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rundir")
    return optimize(write_config(tmp / "c.yaml", SMALL_SYNTHETIC), tmp / "run").run_dir


def test_create_is_stamped_and_never_reuses_a_directory(tmp_path):
    from datetime import UTC, datetime

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = RunDir.create(tmp_path, "x", now)
    second = RunDir.create(tmp_path, "x", now)
    assert first.path.name == "x-20260102T030405Z"
    assert second.path.name == "x-20260102T030405Z-2"
    assert first.path.is_dir() and second.path.is_dir()


def test_writes_are_atomic_and_read_back(tmp_path):
    files = RunDir.make(tmp_path / "r")
    files.write_config({"name": "x", "budget": 5})
    files.write_split([0, 2], [1])
    files.write_summary({"status": "complete", "attempt": 2, "value": np.int64(3)})
    assert files.read_config() == {"name": "x", "budget": 5}
    assert files.read_split() == {"train": [0, 2], "test": [1]}
    assert files.read_summary()["value"] == 3  # numpy scalars are written as plain values
    assert files.last_attempt() == 2
    assert not list(files.path.glob("*.tmp"))  # nothing half-written is left behind


def test_a_run_holds_exactly_the_named_files(run_path):
    assert sorted(p.name for p in run_path.iterdir()) == sorted(RUN_FILES)
    files = RunDir(run_path)
    assert files.read_policy()["contexts"][0]["context"] == "free"
    assert list(files.read_estimates(["utility"]).columns)[:3] == ["context", "prompt", "n"]
    assert files.read_evaluation() is None


def test_missing_files_name_the_directory_and_the_flag(tmp_path):
    with pytest.raises(ConfigError) as err:
        RunDir(tmp_path, flag="RUN_DIR").read_config()
    assert str(err.value) == f"RUN_DIR: {tmp_path} is not a run directory (no config.yaml)"
    with pytest.raises(ConfigError) as err:
        RunDir(tmp_path, flag="PATH").read_policy()
    assert str(err.value) == f"PATH: {tmp_path} is not a complete run directory (no policy.json)"
    with pytest.raises(ConfigError) as err:
        StudyDir(tmp_path).read_results()
    assert str(err.value) == f"{tmp_path} is not a complete bench directory (no results.csv)"


@pytest.mark.parametrize("name, text, message", [
    ("summary.json", "{\"status\": ", "not valid JSON (Expecting value, line 1 column 12)"),
    ("policy.json", "[1, 2]", "is not a JSON object"),
    ("policy.json", "{\"status\": \"complete\"}", "lacks the key 'contexts'"),
    ("split.json", "{\"train\": []}", "lacks the key 'test'"),
    ("config.yaml", "name: [x\n", "not valid YAML ("),
    ("config.yaml", "- a\n- b\n", "is not a YAML mapping"),
    ("estimates.csv", "", "not a readable CSV table (No columns to parse from file)"),
    ("estimates.csv", "context,prompt\nfree,p0\n", "lacks the column 'n'"),
    # contents of the wrong type are bad input too, never a crash (campaign)
    ("split.json", "{\"train\": [0], \"test\": \"x\"}",
     "'test' must be a list of query indices (integers >= 0)"),
    ("split.json", "{\"train\": [0], \"test\": [null]}",
     "'test' must be a list of query indices (integers >= 0)"),
    ("split.json", "{\"train\": [0], \"test\": [-1, 1.5]}",
     "'test' must be a list of query indices (integers >= 0)"),
    ("split.json", "{\"train\": 5, \"test\": [1]}",
     "'train' must be a list of query indices (integers >= 0)"),
    ("policy.json", "{\"contexts\": \"x\"}", "'contexts' must be a list of JSON objects"),
    ("policy.json", "{\"contexts\": [{\"context\": \"a\", \"n\": \"x\"}]}",
     "contexts[0].n must be an integer >= 1, got 'x'"),
    ("estimates.csv", "context,prompt,n\nfree,p0,abc\n", "column 'n' holds a non-number"),
])
def test_corrupt_files_name_the_file_and_what_is_wrong(tmp_path, name, text, message):
    files = RunDir(tmp_path)
    (tmp_path / name).write_text(text, encoding="utf-8")
    read = {"summary.json": files.read_summary, "policy.json": files.read_policy,
            "split.json": files.read_split, "config.yaml": files.read_config,
            "estimates.csv": lambda: files.read_estimates(["context", "prompt", "n"])}[name]
    with pytest.raises(ConfigError) as err:
        read()
    assert err.value.source == str(tmp_path / name)
    assert err.value.detail.startswith(message), err.value.detail
    assert str(err.value).startswith(f"{tmp_path / name}: ")


def _copy(run_path, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    for path in run_path.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    return out


@pytest.mark.parametrize("name, text", [
    ("summary.json", "{broken"), ("policy.json", "{broken"), ("estimates.csv", "{broken"),
    ("policy.json", "{\"contexts\": \"x\"}"),
    ("policy.json", "{\"contexts\": [{\"context\": \"free\", \"prompt\": \"p0\", "
                    "\"n\": \"x\"}]}"),
    ("estimates.csv", "context,prompt,n,utility,task_utility,cost\nfree,p0,abc,0,0,0\n"),
])
def test_evaluate_and_report_treat_a_corrupt_file_alike(run_path, tmp_path, name, text):
    run = _copy(run_path, tmp_path)
    (run / name).write_text(text, encoding="utf-8")
    errors = []
    for action in (evaluate, write_report):
        with pytest.raises(ConfigError) as err:
            action(run)
        errors.append(err.value)
    assert errors[0].source == errors[1].source == str(run / name)
    assert errors[0].detail == errors[1].detail
    assert not (run / "report.md").exists() and not (run / "evaluation.json").exists()


@pytest.mark.parametrize("text", ["{\"train\": [0], \"test\": \"x\"}",
                                  "{\"train\": [0], \"test\": [null]}",
                                  "{\"train\": [0], \"test\": 5}"])
def test_evaluate_reads_a_split_of_the_wrong_type_as_bad_input(run_path, tmp_path, text):
    from tests.conftest import run_cli

    run = _copy(run_path, tmp_path)
    (run / "split.json").write_text(text, encoding="utf-8")
    code, out, err = run_cli("evaluate", run)
    assert code == 2
    assert err == (f"error: {run / 'split.json'}: 'test' must be a list of query indices "
                   f"(integers >= 0)\n")
    assert not (run / "evaluation.json").exists()


def test_report_reads_a_corrupt_evaluation_as_bad_input(run_path, tmp_path):
    run = _copy(run_path, tmp_path)
    (run / "evaluation.json").write_text(json.dumps({"method": "exact"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks the key 'comparisons'"):
        write_report(run)


def test_study_dir_round_trip(tmp_path):
    study = StudyDir.make(tmp_path / "s")
    frame = pd.DataFrame({"algorithm": ["psst"], "budget": [10]})
    study.write_results(frame)
    study.write_summary(frame)
    assert study.read_summary(["algorithm"]).equals(frame)
    assert sorted(p.name for p in study.path.iterdir()) == [StudyDir.RESULTS,
                                                            StudyDir.SUMMARY]


def test_a_study_summary_with_a_non_number_is_bad_input(tmp_path):
    # campaign: a budget 'abc' in summary.csv drew an empty log-scaled figure (exit 0)
    study = StudyDir.make(tmp_path / "s")
    (study.path / "summary.csv").write_text(
        "algorithm,budget,mean_acr,sem_acr,mean_regret\npsst,abc,0.5,0.1,0.1\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        write_report(study.path)
    assert str(err.value) == f"{study.path / 'summary.csv'}: column 'budget' holds a " \
                             f"non-number ('abc')"
    assert not (study.path / "report.md").exists()
