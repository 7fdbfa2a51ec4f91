"""The experiment config: one pydantic schema, unknown keys rejected everywhere."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..tasks import DEFAULT_PATTERN

COST = "cost"  # the cost objective's reserved name in context weights


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackendConfig(_Strict):
    """Where completions come from.

    ``categorical``: a recorded npz environment (``path``); ``synthetic``: a seeded generator
    (``family`` and its size); ``live``: a model through LiteLLM (``model``, and how to reach
    it); ``replay``: a file written by ``iapo record`` (``path``).
    """

    kind: Literal["categorical", "synthetic", "live", "replay"]
    path: str | None = None
    family: str | None = None
    prompts: int | None = Field(None, ge=2)
    queries: int | None = Field(None, ge=5)
    n_max: int | None = Field(None, ge=1, le=256)
    seed: int = 0
    # live only
    model: str | None = Field(None, min_length=1)
    api_base: str | None = None
    timeout: float = Field(120.0, gt=0)
    concurrency: int = Field(8, ge=1, le=512)
    max_retries: int = Field(5, ge=0, le=20)
    retry_base_delay: float = Field(1.0, ge=0)
    supports_n: bool | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    cache_dir: str = ".iapo-cache"

    @model_validator(mode="after")
    def _fields_of_kind(self) -> BackendConfig:
        required = {"categorical": "path", "synthetic": "family", "live": "model",
                    "replay": "path"}[self.kind]
        if not getattr(self, required):
            raise ValueError(f"kind '{self.kind}' needs '{required}'")
        extra = sorted(self.model_fields_set - _BACKEND_FIELDS[self.kind])
        if extra:
            raise ValueError(f"kind '{self.kind}' does not take {', '.join(extra)}")
        secret = [k for k in self.params if _looks_secret(k)]
        if secret:
            raise ValueError(f"'params.{secret[0]}' looks like a secret: put API keys in the "
                             f"environment (e.g. OPENAI_API_KEY), never in a config file")
        return self


_LIVE_FIELDS = {"model", "api_base", "timeout", "concurrency", "max_retries",
                "retry_base_delay", "supports_n", "params", "cache_dir", "n_max"}
_BACKEND_FIELDS = {
    "categorical": {"kind", "path"},
    "synthetic": {"kind", "family", "prompts", "queries", "n_max", "seed"},
    "live": {"kind", *_LIVE_FIELDS},
    "replay": {"kind", "path", "n_max"},
}


def _looks_secret(key: str) -> bool:
    key = key.lower()
    return any(word in key for word in ("key", "token", "secret", "password"))


class PromptConfig(_Strict):
    """A prompt arm: template plus optional decoding settings (used by live backends)."""

    id: str = Field(min_length=1)
    template: str = ""
    system: str | None = None
    decoding: dict[str, Any] = Field(default_factory=dict)


class ObjectiveConfig(_Strict):
    """A task objective. Live Best-of-N runs score it with ``scorer`` (see
    ``iapo_cli.tasks``); ``range`` overrides the scorer's declared range."""

    name: str = Field(min_length=1)
    scorer: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    range: tuple[float, float] | None = None

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
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
    """Queries for live backends: a .jsonl or .csv file. Templates may use ``input_fields``
    (default: any field of every row); ``target_field`` holds the gold answer."""

    path: str
    input_fields: list[str] = Field(default_factory=list)
    target_field: str | None = None
    id_field: str | None = None


class AnswerConfig(_Strict):
    """Majority-vote answer extraction: group 1 of the last match of ``pattern``."""

    pattern: str = DEFAULT_PATTERN
    lowercase: bool = True
    numeric: bool = True


class SplitConfig(_Strict):
    test_fraction: float = Field(0.2, gt=0, lt=1)


class Config(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")

    def stored(self) -> dict:
        """Every setting with its default filled in, as plain data that validates again
        (the backend keeps only the keys of its kind)."""
        data = self.model_dump(mode="json")
        allowed = _BACKEND_FIELDS[self.backend.kind]
        data["backend"] = {k: v for k, v in data["backend"].items() if k in allowed}
        return data

    backend: BackendConfig
    strategy: str | None = None
    prompts: list[PromptConfig] | None = None
    dataset: DatasetConfig | None = None
    answer: AnswerConfig | None = None
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

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str | None) -> str | None:
        from ..strategies import STRATEGIES  # the registry: a strategy is valid by name

        if value is not None and value not in STRATEGIES:
            raise ValueError(f"unknown strategy '{value}' (known: {', '.join(STRATEGIES)})")
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
