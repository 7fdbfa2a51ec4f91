"""The config's field documentation, read from the schema's models (types, defaults,
limits and attribute docstrings), so it cannot drift from what is validated."""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ..errors import ConfigError
from ._schema import Config

_LIMITS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


@dataclass(frozen=True)
class FieldDoc:
    """One key of a config section. ``default`` is ``None`` when the key is required;
    ``section`` names the section documenting the key's own keys, if it has any."""

    name: str
    type: str
    default: str | None
    doc: str
    section: str | None = None


@dataclass(frozen=True)
class SectionDoc:
    """A config section: its dotted path ('' for the top level), what it is, its keys."""

    path: str
    summary: str
    fields: tuple[FieldDoc, ...]


@dataclass(frozen=True)
class _Section:
    path: str
    model: type[BaseModel]
    tag: str | None  # a discriminated union's tag (the backend kind), else None

    @property
    def name(self) -> str:
        """How a user names the section: 'cost', 'backend.live'."""
        return f"{self.path}.{self.tag}" if self.tag else self.path


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's annotation holds (through unions, lists and dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _children(section: _Section, name: str, field: FieldInfo) -> list[_Section]:
    path = f"{section.path}.{name}" if section.path else name
    models = _models_in(field.annotation)
    if field.discriminator:
        return [_Section(path, m, get_args(m.model_fields[field.discriminator].annotation)[0])
                for m in models]
    return [_Section(path, m, None) for m in models]


def _all_sections() -> list[_Section]:
    out, todo = [], [_Section("", Config, None)]
    while todo:
        section = todo.pop(0)
        out.append(section)
        for name, field in section.model.model_fields.items():
            todo.extend(_children(section, name, field))
    return out


def _section_names() -> list[str]:
    names = [name for s in _all_sections()[1:] for name in (s.path, s.name)]
    return list(dict.fromkeys(names))


def _find(path: str) -> list[_Section]:
    """The sections at a dotted path: 'cost', 'backend' (every kind), 'backend.live'."""
    found = [_Section("", Config, None)]
    for part in path.split(".") if path else []:
        tagged = [s for s in found if s.tag == part]
        if tagged:
            found = tagged
            continue
        found = [child for s in found if part in s.model.model_fields
                 for child in _children(s, part, s.model.model_fields[part])]
        if not found:
            raise ConfigError(f"no config section '{path}' (sections: "
                              f"{', '.join(_section_names())})", field="SECTION")
    return found


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(dict.fromkeys(_type_name(a) for a in args))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))


def _limits(field: FieldInfo) -> list[str]:
    out = []
    for item in field.metadata:
        for attr, sign in _LIMITS.items():
            if getattr(item, attr, None) is not None:
                out.append(f"{sign} {getattr(item, attr)}")
        if getattr(item, "min_length", None):
            n = item.min_length
            out.append("non-empty" if n == 1 else f"at least {n} characters")
        if getattr(item, "pattern", None):
            out.append(f"matches {item.pattern}")
    return out


def _default(field: FieldInfo) -> str | None:
    if field.is_required():
        return None
    value = field.default_factory() if field.default_factory else field.default
    if isinstance(value, BaseModel):
        return "its section's defaults"
    return json.dumps(value)


def _field_doc(section: _Section, name: str, field: FieldInfo) -> FieldDoc:
    children = _children(section, name, field)
    if field.discriminator:
        tags = ", ".join(c.tag for c in children)
        kind = f"mapping ({field.discriminator}: {tags})"
    else:
        kind = _type_name(field.annotation)
    limits = _limits(field)
    if limits:
        kind += f" ({', '.join(limits)})"
    return FieldDoc(name, kind, _default(field), " ".join((field.description or "").split()),
                    children[0].path if children else None)


def _summary(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split("\n\n")[0].split())


def describe_fields(section: str | None = None) -> list[SectionDoc]:
    """The documentation of a config section ('' or None: the top level; 'cost',
    'backend' for every backend kind, 'backend.live' for one), one ``SectionDoc`` per
    model there (two for 'contexts': a list or a grid). An unknown section is a
    ConfigError naming the known ones."""
    docs = []
    for found in _find((section or "").strip(".")):
        fields = tuple(_field_doc(found, name, field)
                       for name, field in found.model.model_fields.items())
        docs.append(SectionDoc(found.name, _summary(found.model), fields))
    return docs
