"""The algorithm contract: what every training algorithm implements, and the one place
that builds an algorithm from a name and parameters.

An algorithm is a class with a registry ``name`` whose constructor stores its parameters
exactly as given (no logic) and whose ``run(trainer)`` spends ``trainer``'s budget through
``trainer.pull``/``pull_many``/``pull_fresh``/``pull_paired`` and returns a ``Policy``.
Parameters are checked once, in ``check_params``, before anything runs. The caller (the
run layer, a study) builds and owns the ``Trainer``, so whatever an algorithm learned is
still there when it is interrupted or fails; algorithms never build one themselves.
"""

from __future__ import annotations

import functools
import inspect
import math
import types
import typing
from typing import ClassVar

import numpy as np

from ..errors import ConfigError
from ._problem import Problem
from ._results import Observer, Policy, TrainingResult
from ._trainer import Trainer


class AlgorithmParameterError(ConfigError, ValueError):
    """An algorithm parameter is out of range (bad input, exit 2), raised by
    ``check_params`` (so by ``make_algorithm``, ``train`` and ``fit``, never by the
    constructor). ``detail`` names the parameter and the value; it is also a ValueError,
    the type scripts checked for before parameters were validated in one place."""


class Algorithm:
    """Base class of training algorithms (see the module docstring for the contract)."""

    name: ClassVar[str] = ""

    def _check(self) -> None:
        """Raise ``ValueError`` naming the first parameter that is out of range."""

    def check_params(self) -> None:
        """Every parameter of the type its constructor declares and in range, else
        ``AlgorithmParameterError``."""
        try:
            _check_types(self)
            self._check()
        except ValueError as exc:
            raise AlgorithmParameterError(str(exc)) from None

    def check_problem(self, problem: Problem) -> None:
        """An ``AlgorithmParameterError`` when a parameter cannot apply to ``problem`` (a
        bad input the run layer reports before anything is written or paid)."""

    def prepare(self, trainer: Trainer) -> None:
        """Set ``trainer`` up before its first pull (a metered run's price probe comes
        first): e.g. ``Trainer.pool_votes``, so that every pull is in the estimates."""

    def run(self, trainer: Trainer) -> Policy:
        """Spend ``trainer``'s budget (never more) and return the policy. Algorithms may
        record facts about the run in ``trainer.notes`` (written to summary.json)."""
        raise NotImplementedError

    def fit(self, problem: Problem, budget: float, rng: np.random.Generator,
            observer: Observer | None = None, unit: str = "completions") -> TrainingResult:
        """Convenience for scripts and tests: a fresh ``Trainer`` (kept as ``trainer_``,
        its budget in ``unit``, see ``METER_UNITS``), then ``train``."""
        self.trainer_ = Trainer(problem, budget, rng, observer, unit=unit)
        return train(self, self.trainer_)


def _type_problem(value: object, allowed: tuple) -> str | None:
    """What is wrong with ``value`` for a parameter annotated with the types ``allowed``
    (int, float, str, None), or None. A bool is not a number here, an int is a float."""
    if value is None:
        return None if type(None) in allowed else _WANTED[_main_type(allowed)]
    kind = _main_type(allowed)
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            return "a finite number"
    else:
        ok = isinstance(value, kind)
    return None if ok else _WANTED[kind]


_WANTED = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _main_type(allowed: tuple) -> type:
    return next(t for t in allowed if t is not type(None))


@functools.cache
def _typed_parameters(cls: type) -> tuple[tuple[str, tuple], ...]:
    """(name, allowed types) of each constructor parameter annotated with int, float or
    str, each optionally ``| None``; read once per class (studies check every run)."""
    init = cls.__init__
    hints = typing.get_type_hints(init)
    out = []
    for name in inspect.signature(init).parameters:
        hint = hints.get(name)
        if hint is None:
            continue
        allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        if all(t in _WANTED or t is type(None) for t in allowed):
            out.append((name, allowed))  # other types are left to _check
    return tuple(out)


def _check_types(algorithm: Algorithm) -> None:
    """Each constructor parameter's stored value against its annotation (int, float, str,
    each optionally ``| None``): a ValueError naming the first that does not fit."""
    for name, allowed in _typed_parameters(type(algorithm)):
        if not hasattr(algorithm, name):
            continue
        value = getattr(algorithm, name)
        problem = _type_problem(value, allowed)
        if problem:
            raise ValueError(f"{name} must be {problem}, got {value!r}")


def train(algorithm: Algorithm, trainer: Trainer) -> TrainingResult:
    """Run ``algorithm`` on a trainer the caller owns; parameters are checked first. A
    metered budget (tokens, USD, cost) starts with ``Trainer.probe_prices``, so that the
    algorithm plans with prices learnt from usage rather than with worst cases."""
    algorithm.check_params()
    algorithm.prepare(trainer)
    trainer.probe_prices()
    return trainer.result(algorithm.run(trainer))


def make_algorithm(registry: dict[str, type[Algorithm]], name: str, params: dict
                   ) -> Algorithm:
    """The algorithm ``name`` of ``registry`` with ``params``, checked: an unknown name, an
    unknown parameter or a value out of range is a ConfigError (the last one an
    ``AlgorithmParameterError``)."""
    if name not in registry:
        raise ConfigError(f"unknown algorithm {name!r} (known: {', '.join(registry)})")
    try:
        algorithm = registry[name](**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for {name}: {exc}") from None
    algorithm.check_params()
    return algorithm
