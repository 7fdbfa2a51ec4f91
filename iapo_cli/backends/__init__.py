"""Where completions come from. Every backend implements ``Backend``; offline ones also
``ExactBackend``."""

from ._base import Backend, Contexts, Environment, ExactBackend
from ._categorical import CategoricalScores, CategoricalVotes, load_npz
from ._live import COST_MEASURES, LiveBackend, PromptArm, completion_cost
from ._replay import ReplayVotes, compact_votes, load_environment, load_replay, write_replay
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

