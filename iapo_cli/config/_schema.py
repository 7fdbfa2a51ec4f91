"""The experiment config: one pydantic schema, unknown keys rejected everywhere."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

COST = "cost"  # the cost objective's reserved name in context weights


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackendConfig(_Strict):
    """Where completions come from. ``categorical``: a recorded npz environment (path);
    ``synthetic``: a seeded generator (family and its size)."""

    kind: Literal["categorical", "synthetic"]
    path: str | None = None
    family: str | None = None
    prompts: int | None = Field(None, ge=2)
    queries: int | None = Field(None, ge=5)
    n_max: int | None = Field(None, ge=1, le=256)
    seed: int = 0

    @model_validator(mode="after")
    def _fields_of_kind(self) -> BackendConfig:
        if self.kind == "categorical":
            if not self.path:
                raise ValueError("kind 'categorical' needs 'path' (an .npz file)")
            extra = [f for f in ("family", "prompts", "queries", "n_max") if getattr(self, f)]
            if extra:
                raise ValueError(f"kind 'categorical' does not take {', '.join(extra)}")
        if self.kind == "synthetic":
            if not self.family:
                raise ValueError("kind 'synthetic' needs 'family'")
            if self.path:
                raise ValueError("kind 'synthetic' does not take 'path'")
        return self


class PromptConfig(_Strict):
    """A prompt arm: template plus optional decoding settings (used by live backends)."""

    id: str = Field(min_length=1)
    template: str = ""
    system: str | None = None
    decoding: dict[str, Any] = Field(default_factory=dict)


class ObjectiveConfig(_Strict):
    name: str = Field(min_length=1)
    scorer: str | None = None
    range: tuple[float, float] = (0.0, 1.0)

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(f"must be [low, high] with low < high, got {list(value)}")
        return value


class CostConfig(_Strict):
    measure: Literal["completion_tokens", "total_tokens", "money", "latency"] = (
        "completion_tokens"
    )
    scale: float = Field(1.0, gt=0)


class ContextConfig(_Strict):
    name: str = Field(min_length=1)
    weights: dict[str, float]
    probability: float | None = Field(None, ge=0)


class ContextGrid(_Strict):
    """Contexts as the cartesian product of per-weight values (uniform over the grid)."""

    grid: dict[str, list[float]]

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        if not value:
            raise ValueError("must name at least one weight")
        for key, values in value.items():
            if not values:
                raise ValueError(f"'{key}' has no values")
        return value


class AlgorithmConfig(_Strict):
    name: str = "psst"
    params: dict[str, Any] = Field(default_factory=dict)


class DatasetConfig(_Strict):
    """Queries for live backends (declared here so the file format stays stable)."""

    path: str
    input_fields: list[str] = Field(default_factory=list)
    target_field: str | None = None


class SplitConfig(_Strict):
    test_fraction: float = Field(0.2, gt=0, lt=1)


class Config(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    backend: BackendConfig
    strategy: Literal["best_of_n", "majority_vote"] | None = None
    prompts: list[PromptConfig] | None = None
    dataset: DatasetConfig | None = None
    objectives: list[ObjectiveConfig] | None = None
    cost: CostConfig = Field(default_factory=CostConfig)
    scales: Literal["max"] | list[int] = "max"
    contexts: list[ContextConfig] | ContextGrid | None = None
    budget: int = Field(gt=0)
    algorithm: AlgorithmConfig = Field(default_factory=AlgorithmConfig)
    seed: int = 0
    split: SplitConfig = Field(default_factory=SplitConfig)
    output: str = "runs"

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, value: list[PromptConfig] | None) -> list[PromptConfig] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("must not be empty")
        seen: set[str] = set()
        for prompt in value:
            if prompt.id in seen:
                raise ValueError(f"duplicate prompt id '{prompt.id}'")
            seen.add(prompt.id)
        return value

    @field_validator("scales")
    @classmethod
    def _scales(cls, value):
        if isinstance(value, list):
            if not value:
                raise ValueError("must not be empty")
            if len(set(value)) != len(value):
                raise ValueError("must not repeat a scale")
        return value

    @field_validator("contexts")
    @classmethod
    def _contexts(cls, value):
        if isinstance(value, list):
            if not value:
                raise ValueError("must not be empty")
            names = [c.name for c in value]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate context name '{dupes[0]}'")
            given = [c.probability is not None for c in value]
            if any(given) and not all(given):
                raise ValueError("give a probability for every context or for none")
        return value
