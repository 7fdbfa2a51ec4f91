"""The one place litellm is imported: lazily, offline, quiet, with the simulator registered."""

from __future__ import annotations

import os
from functools import cache

SIM_PROVIDER = "iapo-sim"


@cache
def load_litellm():
    """Import litellm with its bundled cost map (no network), debug chatter off, and the
    ``iapo-sim`` provider registered. Later calls return the same module."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    from ..sim import SimulatedModel
    from ._sim_provider import make_sim_provider

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    providers = [p for p in litellm.custom_provider_map if p.get("provider") != SIM_PROVIDER]
    providers.append({"provider": SIM_PROVIDER,
                      "custom_handler": make_sim_provider(litellm, SimulatedModel())})
    litellm.custom_provider_map = providers
    return litellm


def provider_of(model: str) -> str:
    """The provider prefix of a LiteLLM model string ('' when there is none)."""
    return model.split("/", 1)[0] if "/" in model else ""
