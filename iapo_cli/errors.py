"""Typed errors raised by the library; only the CLI turns them into messages and exit codes."""

from collections.abc import Sequence
from typing import NamedTuple


class IapoError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigProblem(NamedTuple):
    """One thing wrong with an input: where (file, field; either may be unknown) and what."""

    source: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        return ": ".join([p for p in (self.source, self.field) if p] + [self.message])


class ConfigError(IapoError):
    """Bad input: a config, an environment file or a flag is wrong. The CLI exits 2.

    ``errors`` lists every problem found, the one given by the arguments first and then
    ``more``; ``source``, ``field`` and ``detail`` describe the first. ``str()`` is one line
    ``source: field: message`` per problem."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 more: Sequence[ConfigProblem] = ()):
        self.source = source
        self.field = field
        self.detail = message
        self.errors = (ConfigProblem(source, field, message), *more)
        super().__init__("\n".join(str(p) for p in self.errors))


class BudgetError(IapoError):
    """An algorithm was asked to spend more than it may (a bug guard, never expected)."""
