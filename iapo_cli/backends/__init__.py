"""Where completions come from. Every backend implements ``Backend``; offline ones also
``ExactBackend``."""

from ._base import Backend, Contexts, Environment, ExactBackend
from ._categorical import CategoricalScores, CategoricalVotes, load_npz
from ._live import COST_MEASURES, LiveBackend, PromptArm, completion_cost
from ._replay import ReplayVotes, compact_votes, load_replay, write_replay
from ._synthetic import SYNTHETIC_FAMILIES, bernoulli_votes, scored_grid, synthetic

__all__ = [
    "COST_MEASURES",
    "LiveBackend",
    "PromptArm",
    "ReplayVotes",
    "compact_votes",
    "completion_cost",
    "load_environment",
    "load_replay",
    "write_replay",
    "SYNTHETIC_FAMILIES",
    "Backend",
    "CategoricalScores",
    "CategoricalVotes",
    "Contexts",
    "Environment",
    "ExactBackend",
    "bernoulli_votes",
    "load_npz",
    "scored_grid",
    "synthetic",
]


def load_environment(path, n_max: int | None = None) -> Environment:
    """A recorded environment file: a replay file (``iapo record``) or a categorical npz."""
    import json

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
    except Exception:  # let the specific loader report what is wrong
        meta = {}
    if meta.get("format") == "iapo-replay":
        return load_replay(path, n_max)
    return load_npz(path)
