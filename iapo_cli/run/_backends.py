"""Backend builders, one per config ``kind``, in a registry: adding a backend kind is a
config model in ``config/_schema.py`` plus one ``@register_backend`` function here or in
its own module (imported by ``run/_resolve.py``, as ``_live`` is)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..backends import Environment, load_npz, load_replay, synthetic
from ..config import BACKEND_CONFIGS, Config
from ..errors import ConfigError

BackendBuilder = Callable[[Config, str], Environment]
"""``(config, source) -> Environment``: every check that needs the backend, before any
completion is drawn; problems are ConfigErrors naming ``source`` and the field."""

_BUILDERS: dict[str, BackendBuilder] = {}


def register_backend(kind: str) -> Callable[[BackendBuilder], BackendBuilder]:
    """Register the decorated function as the builder of config ``backend.kind == kind``."""
    if kind not in BACKEND_CONFIGS:
        raise ValueError(f"no config model for backend kind {kind!r}")

    def register(builder: BackendBuilder) -> BackendBuilder:
        if kind in _BUILDERS:
            raise ValueError(f"backend kind {kind!r} is registered twice")
        _BUILDERS[kind] = builder
        return builder

    return register


def build_environment(config: Config, source: str) -> Environment:
    """The backend the config names; relative paths are relative to the config file."""
    return _BUILDERS[config.backend.kind](config, source)


def config_path(source: str, path: str) -> Path:
    """Paths in a config are relative to the config file."""
    out = Path(path).expanduser()
    return out if out.is_absolute() else Path(source).parent / out


def _existing_file(config: Config, source: str) -> Path:
    path = config_path(source, config.backend.path)
    if not path.is_file():
        raise ConfigError(f"file not found: {path}", source=source, field="backend.path")
    return path


@register_backend("categorical")
def build_categorical(config: Config, source: str) -> Environment:
    return load_npz(_existing_file(config, source))


@register_backend("replay")
def build_replay(config: Config, source: str) -> Environment:
    return load_replay(_existing_file(config, source), config.backend.n_max)


@register_backend("synthetic")
def build_synthetic(config: Config, source: str) -> Environment:
    spec = config.backend
    sizes = {k: getattr(spec, k) for k in ("prompts", "queries", "n_max")
             if getattr(spec, k) is not None}
    try:
        return synthetic(spec.family, seed=spec.seed, **sizes)
    except ConfigError as exc:
        raise ConfigError(exc.detail, source=source, field="backend.family") from None
