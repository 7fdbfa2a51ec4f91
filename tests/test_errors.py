"""Errors carry their exit codes; every "interrupted" error shares one base."""

import pytest

from iapo_cli import errors
from iapo_cli.evaluation import StudyInterrupted
from iapo_cli.run import (
    BelowMinimum,
    BenchInterrupted,
    EvaluationInterrupted,
    Interrupted,
    RecordInterrupted,
    RunFailed,
)


@pytest.mark.parametrize("cls, code", [
    (errors.IapoError, 1), (errors.ConfigError, 2), (errors.BudgetError, 1),
    (errors.BelowMinimum, 3), (errors.Interrupted, 130), (RunFailed, 1),
])
def test_exit_codes_are_class_attributes(cls, code):
    assert cls.exit_code == code


def test_interrupted_errors_share_one_base():
    for cls in (Interrupted, RecordInterrupted, EvaluationInterrupted, StudyInterrupted,
                BenchInterrupted):
        assert issubclass(cls, errors.Interrupted) and cls.exit_code == 130
    assert BelowMinimum is errors.BelowMinimum
    assert not issubclass(RunFailed, errors.Interrupted)
