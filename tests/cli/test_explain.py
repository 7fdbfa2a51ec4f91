"""``iapo explain``: the config's documentation, generated from the schema (in-process)."""

import pytest
from typer.testing import CliRunner

from iapo_cli.cli import app
from iapo_cli.config import BACKEND_CONFIGS, Config, LiveBackendConfig
from iapo_cli.errors import ConfigError

runner = CliRunner()


def explain(*args):
    result = runner.invoke(app, ["explain", *args])
    return result


def test_top_level_lists_every_key_with_type_default_and_doc():
    result = explain()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("config: An experiment")
    keys = [line.split(":")[0].strip() for line in lines if line.startswith("  ") and
            not line.startswith("      ")]
    assert keys == list(Config.model_fields)
    assert "  budget: int | mapping, required; see `iapo explain budget`" in lines
    assert any(line.startswith("      Completions training may draw in total (a number)")
               for line in lines)
    assert "  output: str, default \"runs\"" in lines
    assert ("  backend: mapping (kind: categorical, synthetic, live, replay), required; "
            "see `iapo explain backend`") in lines


def test_one_backend_kind():
    result = explain("backend.live")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("backend.live: A model through LiteLLM")
    for name, field in LiveBackendConfig.model_fields.items():
        line = lines.index(next(x for x in lines if x.startswith(f"  {name}: ")))
        assert lines[line + 1] == f"      {' '.join(field.description.split())}"
    assert "  retry_max_delay: float (>= 0), default 60.0" in lines
    assert "  max_n: int (>= 1), default 64" in lines
    assert "  concurrency: int (>= 1, <= 512), default 8" in lines


def test_backend_shows_every_kind_and_contexts_both_forms():
    result = explain("backend")
    headers = [line.split(":")[0] for line in result.output.splitlines()
               if line and not line.startswith(" ")]
    assert headers == [f"backend.{kind}" for kind in BACKEND_CONFIGS]
    result = explain("contexts")
    assert "  weights: dict[str, float], required" in result.output
    assert "  grid: dict[str, list[float]], required" in result.output


def test_unknown_section_names_the_known_ones():
    result = explain("backend.lve")
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith("SECTION: no config section 'backend.lve' "
                                            "(sections: backend, backend.categorical,")


@pytest.mark.parametrize("section", ["cost", "dataset", "answer", "prompts", "objectives",
                                     "algorithm", "split", "backend.replay"])
def test_every_section_is_documented(section):
    result = explain(section)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{section}: ")
    docs = [line for line in result.output.splitlines() if line.startswith("      ")]
    assert docs and all(line.strip() for line in docs)
