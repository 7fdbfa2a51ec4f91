"""Typed errors raised by the library; only the CLI turns them into messages and exit codes.

Every error carries the process exit code it stands for as the class attribute
``exit_code``: 2 bad input (``ConfigError``), 1 a runtime failure (the default), 3 a
policy below ``evaluate --min-acr`` (``BelowMinimum``), 130 interrupted (``Interrupted``).
``iapo_cli.cli`` maps any ``IapoError`` to ``exc.exit_code`` in one place.
"""


class IapoError(Exception):
    """Base class of every error the library raises on purpose: a runtime failure (exit 1)
    unless a subclass says otherwise."""

    exit_code: int = 1


class ConfigError(IapoError):
    """Bad input: a config, an environment file, a run directory's file or a flag is wrong.
    The CLI exits 2."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        self.detail = message
        parts = [p for p in (source, field) if p]
        super().__init__(": ".join([*parts, message]))


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
