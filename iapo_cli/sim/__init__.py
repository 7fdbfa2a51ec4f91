"""The built-in simulated model (``iapo-sim/...``) and its arithmetic question bank.

Importing this package registers the simulator as the transport for ``iapo-sim/...`` model
strings (``iapo_cli.llm.register_transport``); the client never imports it itself."""

from ..llm import register_transport
from ._model import SKILLS, SimulatedModel, Skill, token_count, truncate
from ._problems import Problem, generate_problems
from ._transport import SIM_PROVIDER, SimTransport

register_transport(SIM_PROVIDER, SimTransport)

__all__ = ["SIM_PROVIDER", "SKILLS", "Problem", "SimTransport", "SimulatedModel", "Skill",
           "generate_problems", "token_count", "truncate"]
