"""Where completions come from. Every backend implements ``Backend``; offline ones also
``ExactBackend``."""

from ._base import Backend, Contexts, Environment, ExactBackend
from ._categorical import CategoricalScores, CategoricalVotes, load_npz
from ._synthetic import SYNTHETIC_FAMILIES, bernoulli_votes, scored_grid, synthetic

__all__ = [
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
