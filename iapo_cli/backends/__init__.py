"""Where completions come from. Every backend implements ``Backend``; offline ones also
``ExactBackend``.

The live backend (and with it the LLM client and the task helpers) is imported on first
use, so that the engine (``algorithms``, ``strategies``), which needs ``Backend`` and
``Contexts`` from here, never pulls in the client.
"""

from ._base import Backend, Contexts, Environment, ExactBackend, PullUsage
from ._categorical import CategoricalScores, CategoricalVotes, load_npz
from ._replay import ReplayVotes, compact_votes, load_environment, load_replay, write_replay
from ._synthetic import SYNTHETIC_FAMILIES, bernoulli_votes, scored_grid, synthetic

_LIVE = ("COST_MEASURES", "LiveBackend", "PER_REQUEST_MEASURES", "PromptArm",
         "completion_cost", "max_completion_tokens")


def __getattr__(name: str):
    if name in _LIVE:
        from . import _live

        return getattr(_live, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COST_MEASURES",
    "LiveBackend",
    "PER_REQUEST_MEASURES",
    "PromptArm",
    "ReplayVotes",
    "compact_votes",
    "completion_cost",
    "max_completion_tokens",
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
    "PullUsage",
    "bernoulli_votes",
    "load_npz",
    "scored_grid",
    "synthetic",
]

