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

    from ._categorical import read_npz

    arrays = read_npz(path)
    try:
        meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
    except json.JSONDecodeError:
        meta = {}  # load_npz says what is wrong
    if isinstance(meta, dict) and meta.get("format") == "iapo-replay":
        return load_replay(path, n_max)
    return load_npz(path)
