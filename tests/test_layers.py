"""The import direction: the engine (algorithms, strategies) never reaches the LLM client,
the task helpers, the cache or the command line, and the command line starts light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN_FOR_ENGINE = ("iapo_cli.llm", "iapo_cli.tasks", "diskcache", "litellm", "typer")


def loaded_after(statement: str) -> set[str]:
    """Top-level names of every module a fresh interpreter holds after ``statement``
    (iapo_cli subpackages by their two-part name)."""
    code = (f"import sys, json; {statement}; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for module in json.loads(out):
        parts = module.split(".")
        names.add(".".join(parts[:2]) if parts[0] == "iapo_cli" else parts[0])
    return names


@pytest.mark.parametrize("package", ["iapo_cli.algorithms", "iapo_cli.strategies"])
def test_the_engine_imports_no_client_tasks_cache_or_cli(package):
    loaded = loaded_after(f"import {package}")
    assert not loaded & set(FORBIDDEN_FOR_ENGINE), sorted(loaded & set(FORBIDDEN_FOR_ENGINE))


def test_the_engine_sources_name_none_of_them():
    """A lazy import inside a function would escape the runtime check above."""
    import ast
    from pathlib import Path

    import iapo_cli

    root = Path(iapo_cli.__file__).parent
    for package in ("algorithms", "strategies"):
        for path in (root / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    level = "." * node.level
                    base = (level + (node.module or "")).replace("..", "iapo_cli.", 1)
                    # `from .. import llm` names the module in the alias, not in `module`
                    names = [base, *(f"{base.rstrip('.')}.{a.name}" for a in node.names)]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for name in names:
                    for bad in FORBIDDEN_FOR_ENGINE:
                        assert bad not in name and not name.startswith(f"{bad}."), \
                            f"{path.name} imports {name}"


def test_config_reaches_no_client_cache_or_cli():
    """run -> {config, llm}: reading and checking a config (its secret check included)
    loads neither the LLM client nor its cache."""
    loaded = loaded_after("from iapo_cli.config import load_config; "
                          "load_config('configs/openai.yaml')")
    assert not loaded & {"iapo_cli.llm", "diskcache", "litellm", "typer"}, loaded
