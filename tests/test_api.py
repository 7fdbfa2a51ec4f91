"""The Python API: ``from iapo_cli import ...``, lazily imported, and the documented example."""

import os
import re
import subprocess
import sys
from pathlib import Path

import iapo_cli

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_imports():
    from iapo_cli import evaluate, load_config, optimize, record, run_bench, run_study, validate

    assert all(callable(f) for f in (optimize, evaluate, load_config, run_study, validate,
                                     record, run_bench))
    for name in iapo_cli.__all__:
        assert getattr(iapo_cli, name) is not None
    assert set(iapo_cli.__all__) <= set(dir(iapo_cli))


def test_unknown_name_is_an_attribute_error():
    try:
        iapo_cli.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_iapo_cli_is_lazy():
    code = ("import sys, iapo_cli\n"
            "print(sorted(m for m in ('iapo_cli.run', 'numpy', 'pandas') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.stdout.strip() == "[]", proc.stderr


def _readme_example() -> str:
    text = (ROOT / "docs" / "reference" / "python-api.md").read_text(encoding="utf-8")
    section = text.split("# Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    """The Python API example of docs/reference/python-api.md, exactly as written there."""
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_example(), "docs/reference/python-api.md", "exec"), {})
    out = capsys.readouterr().out
    acr = float(re.search(r"test ACR ([0-9.]+)", out).group(1))
    assert 0 < acr <= 1
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "evaluation.json").is_file()
