"""Typed errors raised by the library; only the CLI turns them into messages and exit codes.

Every error carries the process exit code it stands for as the class attribute
``exit_code``: 2 bad input (``ConfigError``), 1 a runtime failure (the default), 3 a
policy below ``evaluate --min-acr`` (``BelowMinimum``), 130 interrupted (``Interrupted``).
``iapo_cli.cli`` maps any ``IapoError`` to ``exc.exit_code`` in one place.
"""

from collections.abc import Sequence
from typing import NamedTuple


class IapoError(Exception):
    """Base class of every error the library raises on purpose: a runtime failure (exit 1)
    unless a subclass says otherwise."""

    exit_code: int = 1


class ConfigProblem(NamedTuple):
    """One thing wrong with an input: where (file, field; either may be unknown) and what."""

    source: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        return ": ".join([p for p in (self.source, self.field) if p] + [self.message])


class ConfigError(IapoError):
    """Bad input: a config, an environment file, a run directory's file or a flag is wrong.
    The CLI exits 2.

    ``errors`` lists every problem found, the one given by the arguments first and then
    ``more``; ``source``, ``field`` and ``detail`` describe the first. ``str()`` is one line
    ``source: field: message`` per problem."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 more: Sequence[ConfigProblem] = ()):
        self.source = source
        self.field = field
        self.detail = message
        self.errors = (ConfigProblem(source, field, message), *more)
        super().__init__("\n".join(str(p) for p in self.errors))


class BudgetError(IapoError):
    """An algorithm was asked to spend more than it may (a bug guard, never expected)."""


class BelowMinimum(IapoError):
    """The policy's test ACR is below ``--min-acr`` (exit code 3)."""

    exit_code = 3


class Interrupted(IapoError):
    """Base of every "stopped by Ctrl-C or ``kill``" error (exit code 130); each subclass
    says where what was done is saved or cached (``run.Interrupted`` for training,
    ``run.RecordInterrupted``, ``run.EvaluationInterrupted``, ``run.BenchInterrupted``
    and ``evaluation.StudyInterrupted``)."""

    exit_code = 130
