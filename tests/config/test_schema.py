"""The config schema: one model per backend kind, documented fields, stored configs."""

import pydantic
import pytest

from iapo_cli.config import BACKEND_CONFIGS, Config, config_from_mapping
from iapo_cli.config import _schema as schema
from iapo_cli.errors import ConfigError

# a valid backend of each kind (files need not exist: the schema does not open them)
BACKENDS = {
    "categorical": {"kind": "categorical", "path": "env.npz"},
    "synthetic": {"kind": "synthetic", "family": "bernoulli-mv", "n_max": 8},
    "live": {"kind": "live", "model": "openai/gpt-4o-mini", "max_n": 8},
    "replay": {"kind": "replay", "path": "x.replay.npz", "n_max": 4},
}
EXAMPLE_VALUES = {"path": "env.npz", "family": "bon-grid", "prompts": 3, "queries": 10,
                  "n_max": 4, "seed": 1, "model": "m", "api_base": "http://x", "timeout": 3,
                  "concurrency": 2, "max_retries": 1, "retry_base_delay": 0.5,
                  "retry_max_delay": 2, "supports_n": True, "max_n": 4, "params": {},
                  "cache_dir": "c", "retry_after_max": 30, "api_key_env": "MY_KEY_VAR",
                  "transport": "litellm", "price": {"input": 1, "output": 2}}


def config(backend: dict) -> dict:
    return {"name": "t", "backend": backend, "budget": 100}


def test_every_kind_has_a_model():
    assert list(BACKEND_CONFIGS) == ["categorical", "synthetic", "live", "replay"]
    assert set(BACKENDS) == set(BACKEND_CONFIGS)
    assert set(EXAMPLE_VALUES) == {name for model in BACKEND_CONFIGS.values()
                                   for name in model.model_fields} - {"kind"}


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_the_kind_picks_the_model(kind):
    parsed = config_from_mapping(config(BACKENDS[kind]), "c.yaml")
    assert type(parsed.backend) is BACKEND_CONFIGS[kind]
    with pytest.raises(pydantic.ValidationError):  # configs are frozen
        parsed.backend.kind = "other"


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_every_kind_rejects_the_keys_of_other_kinds(kind):
    own = set(BACKEND_CONFIGS[kind].model_fields)
    foreign = sorted(set(EXAMPLE_VALUES) - own)
    assert foreign
    for key in foreign:
        backend = {**BACKENDS[kind], key: EXAMPLE_VALUES[key]}
        with pytest.raises(ConfigError) as err:
            config_from_mapping(config(backend), "c.yaml")
        assert str(err.value) == f"c.yaml: backend.{key}: unknown key for kind '{kind}'"


def test_all_foreign_keys_are_reported_together():
    backend = {**BACKENDS["replay"], "model": "m", "family": "f"}
    with pytest.raises(ConfigError) as err:
        config_from_mapping(config(backend), "c.yaml")
    assert [(p.field, p.message) for p in err.value.errors] == [
        ("backend.model", "unknown key for kind 'replay'"),
        ("backend.family", "unknown key for kind 'replay'")]


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_stored_is_the_kinds_own_fields_and_validates_again(kind):
    parsed = config_from_mapping(config(BACKENDS[kind]), "c.yaml")
    stored = parsed.stored()
    assert list(stored["backend"]) == list(BACKEND_CONFIGS[kind].model_fields)
    assert list(stored["backend"])[0] == "kind"
    again = config_from_mapping(stored, "config.yaml")
    assert again == parsed and again.stored() == stored


def test_secrets_in_params_are_refused():
    backend = {**BACKENDS["live"], "params": {"API_Token": "x"}}
    with pytest.raises(ConfigError, match=r"^c.yaml: backend: 'params.API_Token' looks like"):
        config_from_mapping(config(backend), "c.yaml")


def test_live_client_fields_are_its_client_settings():
    live = config_from_mapping(config(BACKENDS["live"]), "c.yaml").backend
    fields = live.client_fields()
    assert list(fields) == ["model", "api_base", "timeout", "concurrency", "max_retries",
                            "retry_base_delay", "retry_max_delay", "supports_n", "max_n",
                            "params", "transport"]
    assert fields["max_n"] == 8 and fields["retry_max_delay"] == 60.0
    fields["params"]["x"] = 1  # a copy: the frozen config is untouched
    assert live.params == {}


def _models():
    return [m for m in vars(schema).values()
            if isinstance(m, type) and issubclass(m, pydantic.BaseModel)
            and m.__module__ == schema.__name__ and not m.__name__.startswith("_")]


def test_every_field_of_the_schema_is_documented():
    models = _models()
    assert Config in models and len(models) >= 15
    for model in models:
        assert model.__doc__, model
        for name, field in model.model_fields.items():
            assert field.description and field.description.strip(), f"{model.__name__}.{name}"


@pytest.mark.parametrize("backend, field, message", [
    # campaign: `kind: null` said "unknown kind 'None'" (a Python spelling)
    ({"kind": None}, "backend.kind",
     "unknown kind null (known: categorical, synthetic, live, replay)"),
    ("live", "backend", "must be a mapping of keys to values"),
    (None, "backend", "must be a mapping of keys to values"),
    ({**BACKENDS["live"], "retry_max_delay": float("inf")}, "backend.retry_max_delay",
     "input should be a finite number"),
    ({**BACKENDS["live"], "timeout": float("inf")}, "backend.timeout",
     "input should be a finite number"),
])
def test_odd_backends_read_as_the_user_wrote_them(backend, field, message):
    with pytest.raises(ConfigError) as err:
        config_from_mapping(config(backend), "c.yaml")
    assert (err.value.field, err.value.detail) == (field, message)


def test_benign_params_pass_and_nested_secrets_do_not():
    # issue 10: `max_tokens: 64` was refused ("token"), a key under extra_headers passed
    ok = {**BACKENDS["live"], "params": {"max_tokens": 64, "extra_headers": {"X-Trace": "a"},
                                         "api_version": "2024-02-01"}}
    assert config_from_mapping(config(ok), "c.yaml").backend.params["max_tokens"] == 64
    key = "sk-proj-AbCdEf0123456789XyZ"
    for params, where in [({"extra_headers": {"X-Key": key}}, "'params.extra_headers.X-Key'"),
                          ({"extra_body": {"note": key}}, "'params.extra_body.note'")]:
        with pytest.raises(ConfigError) as err:
            config_from_mapping(config({**BACKENDS["live"], "params": params}), "c.yaml")
        assert str(err.value).startswith(f"c.yaml: backend: {where} ")
        assert key not in str(err.value)
