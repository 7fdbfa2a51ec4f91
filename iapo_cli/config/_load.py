"""The one place a config file is read: YAML (safely) into a validated ``Config``."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from ..errors import ConfigError, ConfigProblem
from ._schema import BACKEND_CONFIGS, Config, FieldError


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


def _backend_kind(loc: tuple) -> str | None:
    """The backend kind an error location passes through: the discriminated union puts the
    kind right after 'backend' ('backend', 'live', 'model')."""
    if len(loc) >= 2 and loc[0] == "backend" and loc[1] in BACKEND_CONFIGS:
        return loc[1]
    return None


def _config_loc(loc: tuple) -> tuple:
    """The location as the user wrote it: union branch labels and the backend kind dropped."""
    if _backend_kind(loc):
        loc = (loc[0], *loc[2:])
    return tuple(p for p in loc if not _is_branch_label(p))


def _union_group(loc: tuple) -> tuple:
    """Errors that share this key are alternatives of one union (scales, contexts): up to
    the first branch label. Other errors are their own group (one field, one problem)."""
    for i, part in enumerate(loc):
        if _is_branch_label(part):
            return loc[:i]
    return loc


def _message(error: dict) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        backend = _backend_kind(error["loc"])
        return f"unknown key for kind '{backend}'" if backend else "unknown key"
    if kind in ("missing", "union_tag_not_found"):
        return "is required"
    if kind == "union_tag_invalid":
        known = ", ".join(BACKEND_CONFIGS)
        given = error["input"].get("kind") if isinstance(error["input"], dict) else None
        tag = "null" if given is None else repr(error["ctx"]["tag"])  # as YAML spells it
        return f"unknown kind {tag} (known: {known})"
    if kind in ("model_type", "model_attributes_type"):  # a section that is no mapping
        return "must be a mapping of keys to values"
    msg = msg.removeprefix("Value error, ")
    return msg[0].lower() + msg[1:] if msg else kind


def _problem(error: dict, source: str) -> ConfigProblem:
    raised = (error.get("ctx") or {}).get("error")
    if isinstance(raised, FieldError):  # a whole-config check naming its field
        return ConfigProblem(source, raised.field, _message(error))
    loc = _config_loc(error["loc"])
    if error["type"] == "literal_error" and loc == ("scales",):
        error = {**error, "msg": "must be 'max' or a list of integers"}
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, "kind")  # the discriminator is a key of the backend
    return ConfigProblem(source, _field_path(loc) or None, _message(error))


def _problems(errors: list[dict], source: str) -> list[ConfigProblem]:
    """One problem per field, the deepest error overall first (the one this function has
    always reported alone), then the others in the schema's order. A union (scales,
    contexts) reports one error per alternative; the deepest one is in the alternative the
    user meant, so only it is kept."""
    deepest: dict[tuple, dict] = {}
    for error in errors:
        group = _union_group(error["loc"])
        if group not in deepest or len(error["loc"]) > len(deepest[group]["loc"]):
            deepest[group] = error
    first = max(errors, key=lambda e: len(e["loc"]))
    rest = [e for e in deepest.values() if e is not first]
    return [_problem(e, source) for e in [first, *rest]]


class _DuplicateKey(Exception):
    def __init__(self, field: str, line: int, first: int):
        self.field, self.line, self.first = field, line, first


class _UniqueKeys:
    """A mixin for YAML's safe loaders: a mapping naming a key twice is refused (plain YAML
    keeps the last value silently) with ``_DuplicateKey``: the key's dotted path and both
    lines."""

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _check_unique(node, (), set())
        return node


class UniqueKeyLoader(_UniqueKeys, yaml.SafeLoader):
    """The safe loader (pure Python, whose messages iapo reports) refusing repeated keys."""


# libyaml's parser is ~10x faster; where it refuses a text, the pure-Python loader reads it
# again, so what is accepted and every message stay the pure-Python loader's
_FastLoader = type("_FastLoader", (_UniqueKeys, yaml.CSafeLoader), {}) if hasattr(
    yaml, "CSafeLoader") else UniqueKeyLoader


def _check_unique(node: yaml.Node, loc: tuple, seen: set[int]) -> None:
    if id(node) in seen:  # an alias: checked where its anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                if key in first:
                    raise _DuplicateKey(_field_path((*loc, key)),
                                        key_node.start_mark.line + 1, first[key])
                first[key] = key_node.start_mark.line + 1
            _check_unique(value_node, (*loc, key) if key is not None else loc, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_unique(item, (*loc, i), seen)


def parse_yaml(text: str, source: str) -> object:
    """``text`` as YAML data (safe types only); malformed YAML and a key given twice in one
    mapping are ConfigErrors naming ``source``, the line and (for a repeated key) the key."""
    try:
        try:
            return yaml.load(text, Loader=_FastLoader)  # noqa: S506  (a safe loader)
        except yaml.YAMLError:
            return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506  (its message)
    except _DuplicateKey as exc:
        raise ConfigError(f"line {exc.line}: the key is given twice (first on line "
                          f"{exc.first}); YAML would silently keep the last",
                          source=source, field=exc.field) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ConfigError(f"{where}malformed YAML ({problem})", source=source) from None


def config_from_mapping(data: object, source: str) -> Config:
    """Validate already-parsed data; every problem found goes into one ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys to values", source=source)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first, *more = _problems(exc.errors(), source)
        raise ConfigError(first.message, source=source, field=first.field, more=more
                          ) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config; every problem is a line of one ConfigError."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError("file not found", source=source)
    try:
        text = path.read_text(encoding="utf-8-sig")  # an editor's byte-order mark is no key
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read ({type(exc).__name__})", source=source) from None
    return config_from_mapping(parse_yaml(text, source), source)
