"""Typed errors raised by the library; only the CLI turns them into messages and exit codes."""


class IapoError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigError(IapoError):
    """Bad input: a config, an environment file or a flag is wrong. The CLI exits 2."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        self.detail = message
        parts = [p for p in (source, field) if p]
        super().__init__(": ".join([*parts, message]))


class BudgetError(IapoError):
    """An algorithm was asked to spend more than it may (a bug guard, never expected)."""
