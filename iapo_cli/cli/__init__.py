"""The ``iapo`` command line. This module only wires commands and maps errors to exit codes
(``invoke``): every ``IapoError`` exits with its ``exit_code`` (2 bad input, 1 runtime
failure, 3 a policy below ``evaluate --min-acr``, 130 interrupted); anything else is a bug:
one line and a hint, or the full traceback under ``--debug``.

The command modules import the run layer inside their functions, so ``iapo --help`` does
not pay for numpy, pandas or scipy.
"""

from __future__ import annotations

import functools
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated

import typer

from ..errors import IapoError
from ._bench import bench_command
from ._evaluate import evaluate_command
from ._explain import explain_command
from ._infer import infer_command
from ._optimize import optimize_command, validate_command
from ._plan import plan_command
from ._record import record_command
from ._render import err_console
from ._report import report_command
from ._samples import samples_command
from ._serve import serve_command

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Inference-aware prompt optimization: which prompt and which N, per "
                       "user context, under a completion budget.")
app.command("optimize")(optimize_command)
app.command("validate")(validate_command)
app.command("plan")(plan_command)
app.command("explain")(explain_command)
app.command("evaluate")(evaluate_command)
app.command("bench")(bench_command)
app.command("record")(record_command)
app.command("report")(report_command)
app.command("infer")(infer_command)
app.command("serve")(serve_command)
app.command("samples")(samples_command)

BUG_HINT = "(a bug in iapo: rerun with --debug for the traceback)"

_options = {"debug": False}  # set by the global options callback, read by invoke


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option(
        "--debug", help="On an unexpected error (a bug in iapo), print the full traceback.")]
        = False,
) -> None:
    _options["debug"] = debug


def _fail(message: str) -> None:
    for line in message.splitlines() or [""]:  # a ConfigError has one line per problem
        err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)


@functools.cache
def _command():
    """The click command typer builds from ``app`` (reading every command's signature,
    ~20 ms), built once per process: tests invoke the CLI hundreds of times."""
    return typer.main.get_command(app)


def _usage_line(exc: Exception) -> str:
    """A click usage error (a bad flag value, a missing argument, an unknown option) as
    one line: '--budget: input should be a valid integer (see 'iapo optimize --help')'."""
    param, message = getattr(exc, "param", None), exc.format_message()
    if type(exc).__name__ == "BadParameter" and param is not None and param.opts:
        inner = str(getattr(exc, "message", "") or message)
        message = f"{param.opts[0]}: {inner[:1].lower()}{inner[1:]}"
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "iapo"
    return f"{message.rstrip('.')} (see '{path} --help')"


def invoke(args: Sequence[str] | None = None) -> int:
    """Run the command line on ``args`` (default: ``sys.argv[1:]``) in this process and
    return its exit code; errors are printed to stderr as one line. ``main`` and the tests
    both go through here."""
    _options["debug"] = False
    try:
        result = _command().main(args=None if args is None else [str(a) for a in args],
                                 prog_name="iapo", standalone_mode=False)
    except IapoError as exc:
        _fail(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as exc:
        # typer vendors click: its usage errors carry show() and exit_code (2)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            if exc.exit_code == 2 and hasattr(exc, "format_message") and \
                    type(exc).__name__ != "NoArgsIsHelpError":
                _fail(_usage_line(exc))  # bad input: one line like every other
            else:
                exc.show()
            return exc.exit_code
        if type(exc).__name__ == "Abort":  # click's name for Ctrl-C outside our commands
            return 130
        if _options["debug"]:
            traceback.print_exception(exc, file=sys.stderr)
        else:
            from ..llm import redact  # a bug's message may quote a request or a header

            _fail(redact(f"{type(exc).__name__}: {exc}"))
            err_console.print(BUG_HINT, markup=False, highlight=False, soft_wrap=True)
        return 1
    # click returns the exit code of --help and similar early exits, None after a command
    return result if isinstance(result, int) else 0


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # `kill` saves what was done, like Ctrl-C


def main() -> None:
    """The ``iapo`` console script and ``python -m iapo_cli``."""
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(invoke())
