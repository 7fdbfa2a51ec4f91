"""What an algorithm learns about: the arms of a backend on given train queries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backends import Backend, Contexts
from ..errors import ConfigError


class NoTrainingQueries(ConfigError):
    """The problem has no train queries to draw from: training could never spend a
    completion (bad input, exit 2; the config checks report it with its file and field
    before a run starts)."""


@dataclass(frozen=True)
class Problem:
    """What to learn: arms ``prompts x scales`` of a backend, on given train queries."""

    backend: Backend
    train: np.ndarray  # query indices the learner may draw
    scales: np.ndarray  # sorted grid of N, each in 1..backend.n_max
    contexts: Contexts

    @property
    def n_prompts(self) -> int:
        return len(self.backend.prompt_ids)


def arm_names(backend) -> np.ndarray:
    """(P,) object array: the prompt id of each arm (``arm_prompts`` of a multi-model
    backend, else its ``prompt_ids``)."""
    models = getattr(backend, "arm_models", None)
    names = backend.arm_prompts if models is not None else backend.prompt_ids
    return np.asarray(names, dtype=object)


def add_model_column(frame, backend, arms: np.ndarray) -> None:
    """A ``model`` column after ``prompt`` (arm_models[p]) on a multi-model backend."""
    models = getattr(backend, "arm_models", None)
    if models is not None:
        frame.insert(int(frame.columns.get_loc("prompt")) + 1, "model",
                     np.asarray(models, dtype=object)[arms])


def pandas():
    """pandas, imported on first use: tables are only built when a run is written."""
    import pandas

    return pandas
