"""Experiment configs: the schema and the single loading chokepoint."""

from ._fields import FieldDoc, SectionDoc, describe_fields
from ._load import config_from_mapping, load_config
from ._schema import (
    BACKEND_CONFIGS,
    COST,
    MAX_BUDGET,
    AlgorithmConfig,
    BackendConfig,
    CategoricalBackendConfig,
    Config,
    ContextConfig,
    ContextGrid,
    CostConfig,
    LiveBackendConfig,
    LiveClientConfig,
    ObjectiveConfig,
    PromptConfig,
    ReplayBackendConfig,
    SyntheticBackendConfig,
    check_budget,
)

__all__ = [
    "BACKEND_CONFIGS",
    "COST",
    "MAX_BUDGET",
    "AlgorithmConfig",
    "BackendConfig",
    "CategoricalBackendConfig",
    "Config",
    "ContextConfig",
    "ContextGrid",
    "CostConfig",
    "FieldDoc",
    "LiveBackendConfig",
    "LiveClientConfig",
    "ObjectiveConfig",
    "PromptConfig",
    "ReplayBackendConfig",
    "SectionDoc",
    "SyntheticBackendConfig",
    "check_budget",
    "config_from_mapping",
    "describe_fields",
    "load_config",
]
