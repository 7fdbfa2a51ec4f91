"""The built-in simulated model (``iapo-sim/...``) and its arithmetic question bank."""

from ._model import SimulatedModel, token_count
from ._problems import Problem, generate_problems

__all__ = ["Problem", "SimulatedModel", "generate_problems", "token_count"]
