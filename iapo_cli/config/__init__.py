"""Experiment configs: the schema and the single loading chokepoint."""

from ._load import config_from_mapping, load_config
from ._schema import (
    COST,
    AlgorithmConfig,
    BackendConfig,
    Config,
    ContextConfig,
    ContextGrid,
    CostConfig,
    ObjectiveConfig,
    PromptConfig,
)

__all__ = [
    "COST",
    "AlgorithmConfig",
    "BackendConfig",
    "Config",
    "ContextConfig",
    "ContextGrid",
    "CostConfig",
    "ObjectiveConfig",
    "PromptConfig",
    "config_from_mapping",
    "load_config",
]
