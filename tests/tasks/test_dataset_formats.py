"""Issue 22, item 7: datasets as people keep them. A Parquet file, a directory written by a
Hugging Face dataset's ``save_to_disk`` and a Hub dataset (``dataset.hf``) give the same
``Dataset`` as a JSONL file of the same rows; each bad one is one line (exit 2) before
anything is paid; ``datasets`` and ``pyarrow`` are imported only when such a dataset is
used.

No test reaches the network: ``hf_offline`` sets HF_HUB_OFFLINE and HF_DATASETS_OFFLINE
and points every Hugging Face cache into the test's tmp directory; the Hub dataset is a
cache the test writes itself, where and as ``datasets.load_dataset`` caches a download
(``cache_hub_dataset``), which the library reloads offline by name.
"""

from __future__ import annotations

import datetime
import decimal
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iapo_cli.errors import ConfigError
from iapo_cli.tasks import load_dataset
from iapo_cli.tasks._dataset import load_hub_dataset
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]

# every kind of JSON value, a null, a nested list and object, text beyond ASCII
ROWS = [{"id": f"r{i}", "question": f"What is {i} + {i}? ({'é' * i})", "answer": 2 * i,
         "ratio": i / 4, "ok": i % 2 == 0, "note": None if i == 3 else f"n{i}",
         "tags": ["a", str(i)], "meta": {"k": i, "v": "x"}} for i in range(7)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.fixture
def hf_offline(tmp_path, monkeypatch) -> Path:
    """The Hugging Face home (``HF_HOME``) of this test, offline: the variables for any
    process the test starts, and the values ``datasets`` and ``huggingface_hub`` read once
    at import (an earlier test in this process may have imported them)."""
    import datasets
    import huggingface_hub.constants as hub

    home = tmp_path / "hf"
    cache = home / "datasets"
    for name, value in (("HF_HOME", home), ("HF_DATASETS_CACHE", cache),
                        ("HF_HUB_CACHE", home / "hub"), ("HF_HUB_OFFLINE", 1),
                        ("HF_DATASETS_OFFLINE", 1)):
        monkeypatch.setenv(name, str(value))
    for name, value in (("HF_CACHE_HOME", str(home)), ("HF_DATASETS_CACHE", cache),
                        ("HF_MODULES_CACHE", home / "modules"),
                        ("DOWNLOADED_DATASETS_PATH", cache / "downloads"),
                        ("EXTRACTED_DATASETS_PATH", cache / "downloads" / "extracted"),
                        ("HF_HUB_OFFLINE", True), ("HF_DATASETS_OFFLINE", True)):
        monkeypatch.setattr(datasets.config, name, value)
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(home / "hub"))
    return home


def cache_hub_dataset(home: Path, repo_id: str, config: str, splits: dict[str, list[dict]],
                      scratch: Path, commit: str = "0123abcd") -> Path:
    """Put ``splits`` into the Hugging Face cache ``home`` as if ``datasets.load_dataset(
    repo_id, config)`` had downloaded a Hub repository of Parquet files at ``commit``:
    the library's own Parquet builder (the one a Hub download of Parquet files uses),
    named as a download names it, prepares the files into
    ``<cache>/<namespace>___<name>/<config>/0.0.0/<commit>/`` (``<name>-<split>.arrow``
    and ``dataset_info.json``). Offline, ``load_dataset(repo_id, config, split=...)``
    finds the latest such directory by name (datasets' packaged ``cache`` module)."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    scratch.mkdir(parents=True, exist_ok=True)
    files = {split: str(write_parquet(scratch / f"{split}.parquet", rows))
             for split, rows in splits.items()}
    namespace, name = repo_id.split("/")
    builder = Parquet(cache_dir=str(scratch / "builder"), dataset_name=name,
                      config_name=config, hash=commit, data_files=files)
    target = home / "datasets" / f"{namespace}___{name}" / config / "0.0.0" / commit
    builder.download_and_prepare(output_dir=str(target))
    return target


# -- Parquet -------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_gives_the_rows_jsonl_gives(tmp_path, suffix):
    jsonl = load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS), id_field="id")
    parquet = load_dataset(write_parquet(tmp_path / f"d{suffix}", ROWS), id_field="id")
    assert parquet == jsonl
    assert parquet.rows[3] == {"id": "r3", "question": "What is 3 + 3? (ééé)", "answer": "6",
                               "ratio": "0.75", "ok": "false", "note": "",
                               "tags": '["a", "3"]', "meta": '{"k": 3, "v": "x"}'}


def test_parquet_as_pandas_writes_it(tmp_path):
    """float32 as its shortest decimal, times as ISO 8601, an unnamed index left out, a
    named one kept as a field."""
    import pandas as pd

    frame = pd.DataFrame({
        "id": [f"r{i}" for i in range(8)],
        "question": [f"q{i}" for i in range(8)],
        "answer": pd.array([0.1 * i for i in range(8)], dtype="float32"),
        "when": pd.to_datetime([f"2024-01-0{i + 1}" for i in range(8)]),
    })
    kept = frame[frame.index % 4 != 0]  # index 1, 2, 3, 5, 6, 7: stored as a column
    kept.to_parquet(tmp_path / "filtered.parquet")
    data = load_dataset(tmp_path / "filtered.parquet")
    assert data.fields == {"id", "question", "answer", "when"}
    assert data.rows[0] == {"id": "r1", "question": "q1", "answer": "0.1",
                            "when": "2024-01-02T00:00:00"}
    assert [r["answer"] for r in data.rows] == ["0.1", "0.2", "0.3", "0.5", "0.6", "0.7"]
    frame.set_index("id").to_parquet(tmp_path / "indexed.parquet")
    indexed = load_dataset(tmp_path / "indexed.parquet", id_field="id")
    assert indexed.ids == tuple(f"r{i}" for i in range(8))


def test_arrow_values_json_has_no_type_for(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "price": pa.array([decimal.Decimal("1.50")] * 5, pa.decimal128(5, 2)),
        "day": pa.array([datetime.date(2024, 5, i + 1) for i in range(5)]),
        "took": pa.array([datetime.timedelta(seconds=90)] * 5),
        "blob": pa.array([b"text"] * 5),
        "nested": pa.array([[{"at": datetime.date(2024, 5, 1)}]] * 5),
    })
    pq.write_table(table, tmp_path / "d.parquet")
    row = load_dataset(tmp_path / "d.parquet").rows[0]
    assert row == {"price": "1.50", "day": "2024-05-01", "took": "0:01:30", "blob": "text",
                   "nested": '[{"at": "2024-05-01"}]'}


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"PAR1 not really parquet"), "not a readable Parquet file"),
    (lambda p: p.write_bytes(b""), "not a readable Parquet file"),
    (lambda p: write_parquet(p, ROWS[:3]), "has 3 rows; at least 5 are needed"),
    (lambda p: write_parquet(p, [{"q": "x", "b": b"\xff"}] * 5),
     "column 'b' row 0: holds bytes that are not UTF-8 text"),
])
def test_bad_parquet_is_one_config_error(tmp_path, make, message):
    path = tmp_path / "d.parquet"
    make(path)
    with pytest.raises(ConfigError) as info:
        load_dataset(path, source="c.yaml")
    assert info.value.field == "dataset.path" and message in info.value.detail
    assert str(path) in info.value.detail and "\n" not in str(info.value)


# -- directories written by save_to_disk ----------------------------------------------------

def test_saved_dataset_and_dataset_dict(tmp_path, hf_offline):
    import datasets

    jsonl = load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS), id_field="id")
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "one"))
    assert load_dataset(tmp_path / "one", id_field="id") == jsonl

    splits = datasets.DatasetDict(train=datasets.Dataset.from_list(ROWS[:2] * 3),
                                  test=datasets.Dataset.from_list(ROWS))
    splits.save_to_disk(str(tmp_path / "two"))
    assert load_dataset(tmp_path / "two", id_field="id", split="test") == jsonl
    assert load_dataset(tmp_path / "two" / "test", id_field="id") == jsonl  # one split's own
    for split, message in ((None, "holds the splits train, test: name one in dataset.split"),
                           ("dev", "unknown split 'dev' of")):
        with pytest.raises(ConfigError) as info:
            load_dataset(tmp_path / "two", split=split, source="c.yaml")
        assert info.value.field == "dataset.split" and message in info.value.detail
    with pytest.raises(ConfigError, match="give one split's directory, e.g. .*two/train"):
        load_dataset(tmp_path / "two", field="--input", min_rows=1)  # no flag names a split
    with pytest.raises(ConfigError, match="holds one dataset, not a DatasetDict"):
        load_dataset(tmp_path / "one", split="test")
    with pytest.raises(ConfigError, match="split applies to a Hugging Face dataset"):
        load_dataset(tmp_path / "d.jsonl", split="test")


# -- the Hub, offline from a cache the test writes --------------------------------------------

def test_a_hub_dataset_loads_offline_from_the_cache(tmp_path, hf_offline, capfd):
    import datasets
    import huggingface_hub.utils as hub

    cache_hub_dataset(hf_offline, "openai/gsm8k", "main", {"train": ROWS[:5], "test": ROWS},
                      tmp_path / "scratch")
    capfd.readouterr()
    settings = (datasets.utils.are_progress_bars_disabled(), hub.are_progress_bars_disabled(),
                datasets.utils.logging.get_verbosity(), hub.logging.get_verbosity())
    jsonl = load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS), id_field="id")
    assert load_hub_dataset("openai/gsm8k", "test", "main", id_field="id") == jsonl
    assert load_hub_dataset("openai/gsm8k", "test[:5]", "main").rows == jsonl.rows[:5]
    assert len(load_hub_dataset("openai/gsm8k", "train", None)) == 5  # the only config
    assert capfd.readouterr() == ("", "")  # no progress bar, no "using the cached version"

    for name, split, config, field, message in [
        ("openai/gsm8k", "dev", "main", "dataset.split", 'Unknown split "dev"'),
        ("openai/gsm8k", "test", "socratic", "dataset.config",
         "Couldn't find cache for openai/gsm8k for config 'socratic' Available configs in "
         "the cache: ['main']"),
        ("someone/else", "test", None, "dataset.hf",
         "cannot reach the Hugging Face Hub for 'someone/else' (offline mode is on"),
    ]:
        with pytest.raises(ConfigError) as info:
            load_hub_dataset(name, split, config, source="c.yaml")
        assert info.value.field == field and message in info.value.detail
        assert "\n" not in str(info.value)
    assert capfd.readouterr() == ("", "")
    # quiet while loading only: the settings a program using iapo made are as they were
    assert settings == (datasets.utils.are_progress_bars_disabled(),
                        hub.are_progress_bars_disabled(),
                        datasets.utils.logging.get_verbosity(), hub.logging.get_verbosity())


# -- through the command line: live configs on the simulator ---------------------------------

def bank_rows(count: int = 30) -> list[dict]:
    lines = (ROOT / "configs" / "data" / "arithmetic.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in lines.splitlines()[:count]]


def live_config(path: Path, dataset: dict, budget: int = 120) -> Path:
    """A live majority-vote config on the simulated model ``iapo-sim/arith`` (no network,
    no key); its cache and runs next to it."""
    config = {
        "name": "formats",
        "backend": {"kind": "live", "model": "iapo-sim/arith", "n_max": 4,
                    "cache_dir": "cache"},
        "dataset": {**dataset, "input_fields": ["question"], "target_field": "answer",
                    "id_field": "id"},
        "strategy": "majority_vote",
        "answer": {"pattern": r"(?im)^\s*answer\s*:\s*(.+?)\s*$"},
        "prompts": [{"id": "a", "template": "{question}\nGive 'Answer: <n>'."},
                    {"id": "b", "template": "{question}\nThink step by step; 'Answer: <n>'."}],
        "contexts": [{"name": "c1", "weights": {"correct": 1.0, "cost": 0.0}}],
        "budget": budget,
        "seed": 0,
        "output": "runs",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def assert_one_line(result, config: Path, field: str, message: str) -> None:
    code, out, err = result
    assert code == 2 and out == "" and "Traceback" not in err, (code, err)
    assert err.count("\n") == 1 and err.startswith(f"error: {config}: {field}: "), err
    assert message in err, (err, message)


@pytest.fixture
def sources(tmp_path, hf_offline) -> dict[str, dict]:
    """The bank's first 30 rows as each kind of dataset: ``dataset`` sections by name."""
    import datasets

    rows = bank_rows()
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "d.jsonl", rows)
    write_parquet(data / "d.parquet", rows)
    datasets.DatasetDict(train=datasets.Dataset.from_list(rows[:10]),
                         test=datasets.Dataset.from_list(rows)).save_to_disk(str(data / "saved"))
    cache_hub_dataset(hf_offline, "someone/arithmetic", "main", {"test": rows},
                      tmp_path / "scratch")
    return {"jsonl": {"path": str(data / "d.jsonl")},
            "parquet": {"path": str(data / "d.parquet")},
            "saved": {"path": str(data / "saved"), "split": "test"},
            "hub": {"hf": "someone/arithmetic", "config": "main", "split": "test"}}


def test_optimize_and_infer_run_the_same_on_every_kind_of_dataset(tmp_path, sources):
    """Same rows, same seed, same run: the policy and estimates of a Parquet file, a saved
    DatasetDict's split and a Hub dataset equal the JSONL file's; ``iapo infer --input``
    takes the Parquet file and answers as for the JSONL file, from its cached samples."""
    results = {}
    for kind, section in sources.items():
        config = live_config(tmp_path / kind / "c.yaml", section)
        code, _, err = run_cli("optimize", config, "--out", tmp_path / kind / "run")
        assert code == 0, err
        results[kind] = {name: (tmp_path / kind / "run" / name).read_text(encoding="utf-8")
                         for name in ("policy.csv", "estimates.csv", "split.json")}
    assert all(results[kind] == results["jsonl"] for kind in results)
    run = tmp_path / "jsonl" / "run"
    answers = {}
    for kind in ("jsonl", "parquet"):
        out = tmp_path / f"answers-{kind}.jsonl"
        code, _, err = run_cli("infer", run, "--context", "c1", "--input",
                               tmp_path / "data" / f"d.{kind}", "--out", out)
        assert code == 0, err
        answers[kind] = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(answers["jsonl"]) == 30
    # the Parquet rows rendered the same requests: every sample came from the JSONL's
    assert all(line["cached"] == line["n"] for line in answers["parquet"])
    assert [{**line, "cached": 0} for line in answers["parquet"]] == answers["jsonl"]
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 broken")
    code, _, err = run_cli("infer", run, "--context", "c1", "--input", bad)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {bad}: --input: {bad}: not a readable Parquet file"), err


def test_the_console_script_reads_the_hub_cache_offline(tmp_path, sources):
    """A fresh ``iapo validate`` process, told only by the environment (HF_HOME,
    HF_HUB_OFFLINE, as ``hf_offline`` set them), loads the Hub dataset from the cache
    and prints nothing but its verdict."""
    config = live_config(tmp_path / "hub" / "c.yaml", sources["hub"])
    proc = subprocess.run([sys.executable, "-m", "iapo_cli", "validate", str(config)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith(f"{config}: ok"), proc.stdout


def bad_cases(data: Path) -> list[tuple[dict, str, str]]:
    """(dataset section, field, in the message) of datasets that cannot be used."""
    return [
        ({"path": str(data / "corrupt.parquet")}, "dataset.path",
         f"{data / 'corrupt.parquet'}: not a readable Parquet file"),
        ({"path": str(data / "short.parquet")}, "dataset.path",
         "has 3 rows; at least 5 are needed"),
        ({"path": str(data / "nogold.parquet")}, "dataset.target_field",
         "row q003 has no gold answer (null or empty)"),
        ({"path": str(data / "saved"), "split": "dev"}, "dataset.split",
         "unknown split 'dev' of"),
        ({"path": str(data / "saved")}, "dataset.split",
         "holds the splits train, test: name one in dataset.split"),
        ({"path": str(data / "missing")}, "dataset.path", "file not found"),
        ({"path": str(data / "plain")}, "dataset.path",
         "is a directory, and no Hugging Face dataset's save_to_disk wrote it"),
        ({"path": str(data / "d.jsonl"), "split": "test"}, "dataset.split",
         "a split applies to a Hugging Face dataset"),
        ({"path": str(data / "d.jsonl"), "hf": "someone/arithmetic", "split": "test"},
         "dataset.hf", "give dataset.path or dataset.hf, not both"),
        ({"hf": "someone/arithmetic", "config": "main"}, "dataset.split",
         "is required with dataset.hf"),
        ({"input_fields": []}, "dataset.path", "is required (or dataset.hf"),
        ({"path": str(data / "d.jsonl"), "config": "main"}, "dataset.config",
         "applies to dataset.hf only"),
        ({"path": str(data / "d.jsonl"), "revision": "v1"}, "dataset.revision",
         "applies to dataset.hf only"),
        ({"hf": "", "split": "test"}, "dataset.hf", "at least 1 character"),
        ({"hf": str(data / "saved"), "split": "test"}, "dataset.hf",
         "must be a Hugging Face Hub dataset id such as openai/gsm8k"),
        ({"hf": "someone/arithmetic", "config": "main", "split": "dev"}, "dataset.split",
         'Unknown split "dev"'),
        ({"hf": "someone/arithmetic", "config": "other", "split": "test"}, "dataset.config",
         "Couldn't find cache for someone/arithmetic for config 'other'"),
        ({"hf": "someone/elsewhere", "split": "test"}, "dataset.hf",
         "cannot reach the Hugging Face Hub for 'someone/elsewhere' (offline mode is on"),
    ]


def test_every_bad_dataset_is_one_line_and_exit_2(tmp_path, sources):
    data = tmp_path / "data"
    (data / "corrupt.parquet").write_bytes(b"PAR1" + bytes(range(256)) + b"PAR1")
    rows = bank_rows()
    write_parquet(data / "short.parquet", rows[:3])
    write_parquet(data / "nogold.parquet",
                  [{**r, "answer": None if i == 3 else r["answer"]} for i, r in enumerate(rows)])
    (data / "plain").mkdir()
    (data / "plain" / "notes.txt").write_text("not a dataset\n", encoding="utf-8")
    for i, (section, field, message) in enumerate(bad_cases(data)):
        config = live_config(tmp_path / f"case{i}" / "c.yaml", section)
        for command in ("validate", "optimize"):
            assert_one_line(run_cli(command, config), config, field, message)
        assert sorted(p.name for p in config.parent.iterdir()) == ["c.yaml"]  # nothing made


def test_explain_documents_the_new_fields():
    code, out, err = run_cli("explain", "dataset")
    assert code == 0, err
    for name in ("path", "hf", "config", "split", "revision"):
        assert f"  {name}" in out


def test_datasets_and_pyarrow_load_only_for_such_a_dataset(tmp_path):
    """``iapo validate`` of a JSONL config (the quickstart) imports neither; a Parquet
    dataset imports pyarrow and not datasets."""
    write_parquet(tmp_path / "d.parquet", bank_rows())
    code = ("import sys, json\n"
            "from iapo_cli.run import validate\n"
            "from iapo_cli.tasks import load_dataset\n"
            f"validate({str(ROOT / 'configs' / 'quickstart.yaml')!r})\n"
            "before = {m.split('.')[0] for m in sys.modules}\n"
            f"load_dataset({str(tmp_path / 'd.parquet')!r})\n"
            "after = {m.split('.')[0] for m in sys.modules}\n"
            "print(json.dumps([sorted(before & {'pyarrow', 'datasets'}),\n"
            "                  sorted(after & {'pyarrow', 'datasets'})]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    assert json.loads(out) == [[], ["pyarrow"]]
