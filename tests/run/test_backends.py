"""Backend builders: a registry keyed by the config's ``backend.kind``."""

import inspect

import pytest
import yaml

from iapo_cli.config import BACKEND_CONFIGS, LiveBackendConfig, config_from_mapping
from iapo_cli.errors import ConfigError
from iapo_cli.llm import ClientSettings
from iapo_cli.run import build_environment, register_backend
from iapo_cli.run._backends import _BUILDERS
from tests.conftest import SMALL_SYNTHETIC, write_config


def test_every_kind_has_a_builder():
    assert set(_BUILDERS) == set(BACKEND_CONFIGS)


def test_registering_checks_the_kind():
    with pytest.raises(ValueError, match="no config model for backend kind 'batch'"):
        register_backend("batch")
    with pytest.raises(ValueError, match="'live' is registered twice"):
        register_backend("live")(lambda config, source: None)
    assert _BUILDERS["live"].__name__ == "build_live"


@pytest.mark.parametrize("backend, name", [
    ("{kind: synthetic, family: bernoulli-mv, prompts: 3, queries: 10, n_max: 4}",
     "bernoulli-mv"),
    ("{kind: categorical, path: tiny.npz}", "tiny"),
])
def test_build_environment_dispatches_on_kind(tmp_path, tiny_npz, backend, name):
    text = SMALL_SYNTHETIC.replace(SMALL_SYNTHETIC.splitlines()[1], f"backend: {backend}")
    path = write_config(tmp_path / "c.yaml", text)
    config = config_from_mapping(yaml.safe_load(text), str(path))
    env = build_environment(config, str(path))
    assert name in env.name


def test_missing_files_name_the_field(tmp_path):
    source = str(tmp_path / "c.yaml")
    for kind in ("categorical", "replay"):
        config = config_from_mapping({"name": "t", "budget": 10, "backend": {
            "kind": kind, "path": "nope.npz"}}, source)
        with pytest.raises(ConfigError) as err:
            build_environment(config, source)
        assert str(err.value) == f"{source}: backend.path: file not found: {tmp_path}/nope.npz"


def test_live_config_holds_every_client_setting_with_the_same_defaults():
    """The live config model is the one source of the client's settings: each of them can
    be set in a config, and nothing is left to a default written elsewhere."""
    live = LiveBackendConfig(kind="live", model="m")
    parameters = inspect.signature(ClientSettings).parameters
    assert list(live.client_fields()) == list(parameters)
    for name, value in live.client_fields().items():
        default = parameters[name].default
        if default is not inspect.Parameter.empty and name != "params":
            assert value == default, name
    settings = ClientSettings(**live.client_fields())
    assert settings.max_n == 64 and settings.retry_max_delay == 60.0
