"""The one place a config file is read: YAML (safely) into a validated ``Config``."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from ._schema import Config


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _is_branch_label(part: object) -> bool:
    """Union alternatives appear in error locations as 'list[int]', "literal['max']" or a
    class name; config keys are lower-case words."""
    return isinstance(part, str) and (any(c in part for c in "[']") or part[:1].isupper())


def _message(error: dict) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "is required"
    msg = msg.removeprefix("Value error, ")
    return msg[0].lower() + msg[1:] if msg else kind


def config_from_mapping(data: object, source: str) -> Config:
    """Validate already-parsed data; the first problem becomes a ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys to values", source=source)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        # a union (scales, contexts) reports one error per alternative; the deepest one
        # is in the alternative the user meant
        error = max(exc.errors(), key=lambda e: len(e["loc"]))
        loc = tuple(p for p in error["loc"] if not _is_branch_label(p))
        if error["type"] == "literal_error" and loc == ("scales",):
            error = {**error, "msg": "must be 'max' or a list of integers"}
        raise ConfigError(_message(error), source=source, field=_field_path(loc) or None
                          ) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config; every problem is a one-line ConfigError."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError("file not found", source=source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read ({type(exc).__name__})", source=source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ConfigError(f"{where}malformed YAML ({problem})", source=source) from None
    return config_from_mapping(data, source)
