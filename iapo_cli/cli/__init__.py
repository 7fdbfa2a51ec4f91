"""The ``iapo`` command line. This module only wires commands and maps errors to exit
codes: 2 bad input, 1 runtime failure, 3 a policy below ``evaluate --min-acr``, 130
interrupted."""

from __future__ import annotations

import signal
import sys

import typer

from ..errors import ConfigError, IapoError
from ..run import BelowMinimum, EvaluationInterrupted, Interrupted, RecordInterrupted
from ._bench import bench_command
from ._evaluate import evaluate_command
from ._explain import explain_command
from ._optimize import optimize_command, validate_command
from ._record import record_command
from ._render import err_console
from ._report import report_command

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Inference-aware prompt optimization: which prompt and which N, per "
                       "user context, under a completion budget.")
app.command("optimize")(optimize_command)
app.command("validate")(validate_command)
app.command("explain")(explain_command)
app.command("evaluate")(evaluate_command)
app.command("bench")(bench_command)
app.command("record")(record_command)
app.command("report")(report_command)


def _fail(message: str) -> None:
    for line in message.splitlines() or [""]:  # a ConfigError has one line per problem
        err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # `kill` saves what was done, like Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app(standalone_mode=False)
    except ConfigError as exc:
        _fail(str(exc))
        sys.exit(2)
    except BelowMinimum as exc:
        _fail(str(exc))
        sys.exit(3)
    except (Interrupted, RecordInterrupted, EvaluationInterrupted) as exc:
        _fail(str(exc))
        sys.exit(130)
    except KeyboardInterrupt:
        _fail("interrupted")
        sys.exit(130)
    except IapoError as exc:
        _fail(str(exc))
        sys.exit(1)
    except Exception as exc:
        # typer vendors click: its usage errors carry show() and exit_code (2)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":  # click's name for Ctrl-C outside our commands
            sys.exit(130)
        _fail(f"{type(exc).__name__}: {exc}")  # a bug: no traceback, but say what it was
        sys.exit(1)
