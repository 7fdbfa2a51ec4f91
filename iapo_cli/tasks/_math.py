"""Math equivalence for preset 'math': an answer parsed by Hugging Face's math-verify and
written in one canonical form, so that equivalent answers are the same vote.

math-verify (and sympy under it) is imported on the first call only: this module is loaded
with ``iapo_cli.tasks``, and a run that does not use the preset never pays for sympy.
"""

from __future__ import annotations

import importlib.util
import os
import re
from functools import lru_cache

MATH_PACKAGE = "math_verify"
"""The module preset 'math' needs (PyPI: math-verify)."""

PARSE_TIMEOUT = 5
"""Seconds math-verify may spend parsing one answer (and iapo evaluating it), where a
timeout is possible (the main thread on POSIX: math-verify's timeout is ``signal.alarm``)."""

MAX_EXPONENT = 10_000
"""The largest integer power (or factorial) evaluated: ``10^{10^{10}}`` is left as written,
as computing it would not finish (a single C call, which no alarm interrupts)."""

# a word of prose (three letters or more, not a LaTeX command); its answer is read as
# plain text, since math-verify's LaTeX reading would turn 'dollars' into d*o*l*l*a*r*s
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
# \text{...} and the like hold words that math-verify reads as one symbol or a unit
_TEXT_GROUP = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{[^{}]*\}")
# a $ left once an answer's delimiters are trimmed is a currency sign ('$10,000')
_DOLLAR = re.compile(r"(?<!\\)\$")
# functions written without a backslash are mathematics, not prose
_FUNCTIONS = frozenset({"sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "sqrt",
                        "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "min", "max",
                        "gcd", "lcm", "mod", "inf", "infty"})


def math_available() -> bool:
    """Whether math-verify is installed (found without importing it)."""
    return importlib.util.find_spec(MATH_PACKAGE) is not None


def _is_prose(answer: str) -> bool:
    """Whether ``answer`` holds a word of prose outside ``\\text{}`` (and the like)."""
    bare = _TEXT_GROUP.sub(" ", answer)
    return any(word.lower() not in _FUNCTIONS for word in _WORD.findall(bare))


def _timeout() -> int | None:
    # math-verify's timeout raises in any thread but the main one, and on other systems
    # than POSIX it forks a process per call: there, no timeout
    import threading  # here: threading and logging cost milliseconds at import time

    main = threading.current_thread() is threading.main_thread()
    return PARSE_TIMEOUT if main and os.name == "posix" else None


@lru_cache(maxsize=1)
def _math_verify():
    """math-verify's ``parse`` and extraction configs, sympy, and its timeout helper; the
    first call imports them (about half a second)."""
    import logging

    for name in (MATH_PACKAGE, "latex2sympy2_extended"):
        # the library never prints: without this, their warnings (a timeout, a disabled
        # timeout) would reach stderr through logging's last-resort handler
        logging.getLogger(name).addHandler(logging.NullHandler())
    import sympy
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse
    from math_verify.errors import TimeoutException
    from math_verify.utils import timeout

    return (parse, (LatexExtractionConfig(), ExprExtractionConfig()), sympy, timeout,
            TimeoutException)


def _bounded(expr, sympy) -> bool:
    """Whether evaluating ``expr`` stays small: every power has a plain exponent of at most
    MAX_EXPONENT (or a symbolic one), every factorial a plain argument of at most that."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            exponent = node.exp
            if exponent.free_symbols:
                continue
            if not exponent.is_Number or abs(exponent) > MAX_EXPONENT:
                return False
        elif isinstance(node, sympy.factorial):
            argument = node.args[0]
            if not argument.is_Number or abs(argument) > MAX_EXPONENT:
                return False
    return True


def _canonical(expr, sympy) -> str:
    """One string per value: an assignment ``x = 3`` is its right side (as math-verify's
    comparison treats an assignment against a bare value), unevaluated operations are
    evaluated (``\\sqrt{4}`` -> 2, ``50\\%`` -> 1/2), decimals are exact fractions
    (0.5 -> 1/2), and the result is sympy's plain string (``1/2``, ``2*sqrt(2)``,
    ``x**2 + 1``, ``{1, 2}``) on one line."""
    if isinstance(expr, sympy.Eq) and expr.lhs.is_Symbol:
        expr = expr.rhs
    if _bounded(expr, sympy):
        expr = expr.doit()
    floats = expr.atoms(sympy.Float)
    if floats:  # through the decimal text: Float(0.1) is not exactly 1/10 in binary
        expr = expr.xreplace({f: sympy.Rational(str(f)) for f in floats})
    return " ".join(sympy.sstr(expr).split())


@lru_cache(maxsize=4096)
def math_canonical(answer: str) -> str | None:
    """``answer`` (an extracted answer, or a gold one: LaTeX with or without ``$``, or
    plain text) as math-verify reads it, in canonical form: ``1/2``, ``0.5``,
    ``\\frac{1}{2}`` and ``\\dfrac12`` all give ``'1/2'``. None when math-verify finds no
    mathematics in it (the caller falls back to plain text). Answers repeat across votes,
    so results are cached."""
    parse, configs, sympy, timeout, timeout_error = _math_verify()
    answer = answer.strip()
    if not answer:
        return None
    # math-verify reads LaTeX inside math delimiters (or \boxed); prose goes as it is
    # written, where math-verify looks for a number or a plain expression in it
    text = answer if _is_prose(answer) else "$" + _DOLLAR.sub(r"\\$", answer) + "$"
    seconds = _timeout()
    try:
        parsed = parse(text, configs, parsing_timeout=seconds)
        found = next((item for item in parsed if not isinstance(item, str)), None)
        if found is None:
            return None
        return timeout(seconds)(_canonical)(found, sympy)
    except (Exception, timeout_error):  # an answer iapo cannot read is plain text
        return None
