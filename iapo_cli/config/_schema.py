"""The experiment config: one pydantic schema, unknown keys rejected everywhere.

Every field carries its documentation as an attribute docstring (pydantic's
``use_attribute_docstrings``), so ``iapo explain`` prints it from the models themselves."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from ..tasks import ANSWER_PRESETS

COST = "cost"  # the cost objective's reserved name in context weights

MAX_BUDGET = 2**53
"""The largest budget: budget arithmetic (shares such as 0.2·T) runs in float64, which holds
every integer only up to 2**53, so beyond it "never more than T" could not be kept."""


def check_budget(value: int) -> int:
    """``value`` if it is a budget iapo can keep (1..MAX_BUDGET), else a ValueError."""
    if value <= 0:
        raise ValueError("must be > 0")
    if value > MAX_BUDGET:
        raise ValueError(f"must be at most 2**53 = {MAX_BUDGET} (budget arithmetic is exact "
                         f"only up to there), got {value}")
    return value


class _Strict(BaseModel):
    # NaN and infinity are never meaningful here (weights, delays, scales): refused
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True,
                              allow_inf_nan=False)


# -- backends: one model per kind, told apart by ``kind`` ------------------------------------

class _Backend(_Strict):
    """Fields every backend kind has; each kind narrows ``kind`` to its own name."""

    kind: str
    """Which backend this is."""


class CategoricalBackendConfig(_Backend):
    """A recorded environment: per-query answer categories and costs in an npz file."""

    kind: Literal["categorical"]
    """Always 'categorical'."""
    path: str = Field(min_length=1)
    """The .npz file (relative to the config file)."""


class SyntheticBackendConfig(_Backend):
    """A seeded synthetic environment (no network): a family and its size."""

    kind: Literal["synthetic"]
    """Always 'synthetic'."""
    family: str = Field(min_length=1)
    """The generator family (bernoulli-mv, bon-grid)."""
    prompts: int | None = Field(None, ge=2)
    """Number of prompt arms (null: the family's default)."""
    queries: int | None = Field(None, ge=5)
    """Number of queries (null: the family's default)."""
    n_max: int | None = Field(None, ge=1, le=256)
    """Largest N, the number of samples per query (null: the family's default)."""
    seed: int = Field(0, ge=0)
    """Seed of the generator (the environment, not the run)."""


class PriceConfig(_Strict):
    """A model's prices in USD per million tokens (what a provider's price list says)."""

    input: float = Field(ge=0)
    """USD per million prompt (input) tokens."""
    output: float = Field(ge=0)
    """USD per million completion (output) tokens."""

    def per_token(self) -> tuple[float, float]:
        """(USD per prompt token, USD per completion token)."""
        return self.input / 1e6, self.output / 1e6


class LiveClientConfig(_Strict):
    """How to reach a model through LiteLLM. These fields, and only these, make the
    client's settings (``client_fields``); their defaults and limits live here."""

    model: str = Field(min_length=1)
    """A LiteLLM model string, e.g. openai/gpt-4o-mini."""
    api_base: str | None = None
    """The endpoint, e.g. http://localhost:8000/v1 for vLLM or Ollama (null: the
    provider's)."""
    timeout: float = Field(120.0, gt=0)
    """Seconds one request may take."""
    concurrency: int = Field(8, ge=1, le=512)
    """Requests in flight at most."""
    max_retries: int = Field(5, ge=0, le=20)
    """Retries of a request that failed transiently (rate limit, timeout, 5xx)."""
    retry_base_delay: float = Field(1.0, ge=0)
    """Seconds before the first retry; doubled (with jitter) for each further one."""
    retry_max_delay: float = Field(60.0, ge=0)
    """Seconds one backoff wait between retries may take at most."""
    supports_n: bool | None = None
    """Whether one request may ask for n completions (null: ask LiteLLM)."""
    max_n: int = Field(64, ge=1)
    """Completions one request asks for at most when n is supported."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Passed to LiteLLM as is (e.g. max_tokens, stop, api_version, extra_headers); part of
    cache keys except transport settings (timeouts, headers, api_version, organization);
    never API keys."""
    price: PriceConfig | None = None
    """{input, output}: USD per million prompt and completion tokens, for self-hosted or
    unpriced models, or to override LiteLLM's table (null: LiteLLM's table). Not part of
    cache keys."""
    transport: Literal["litellm", "http"] = "litellm"
    """How requests travel: litellm (any provider LiteLLM knows), or http, iapo's own
    client for an OpenAI-compatible api_base (vLLM, Ollama, a proxy, OpenAI): far less CPU
    per request, for high concurrency. Not part of cache keys (the completions are the
    same), so it may change on --resume."""

    @field_validator("params")
    @classmethod
    def _no_client_settings(cls, params: dict[str, Any]) -> dict[str, Any]:
        # the client passes these to LiteLLM itself: given twice they would fail every request
        # (or, for LiteLLM's own retries, multiply iapo's)
        for key in params:
            if key in SET_BY_CLIENT:
                raise ValueError(f"'{key}' is set by iapo itself ({SET_BY_CLIENT[key]})")
        return check_sampling_values(params)

    @model_validator(mode="after")
    def _no_secrets(self):
        # a one-model backend and every entry of ``models`` alike
        _refuse_secrets({"params": self.params, "api_base": self.api_base})
        for key in MAPPING_PARAMS:  # merged into a request's body or headers as they are
            if key in self.params and not isinstance(self.params[key], dict):
                raise ValueError(f"params.{key} must be a mapping, got "
                                 f"{type(self.params[key]).__name__}")
        if self.transport == "http" and not self.api_base:
            raise ValueError("transport 'http' needs an api_base (an OpenAI-compatible "
                             "server's URL, e.g. http://localhost:8000/v1)")
        return self

    def client_fields(self) -> dict[str, Any]:
        """The client's settings by name (every field this class declares but ``price``,
        which a client takes per token: ``PriceConfig.per_token``), with ``params``
        copied."""
        out = {name: getattr(self, name) for name in LiveClientConfig.model_fields
               if name != "price"}
        out["params"] = dict(out["params"])
        return out


class _ClientExtras(_Strict):
    """The two client settings a live backend and a model declare beyond
    ``LiveClientConfig``."""

    retry_after_max: float = Field(600.0, ge=0)
    """Seconds a provider's Retry-After is honoured up to (a longer one waits this long)."""
    api_key_env: str | None = None
    """The environment variable holding the API key (null: the provider's usual one, e.g.
    OPENAI_API_KEY; an api_base server needs none). Only the name is written anywhere."""

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        # the value is never echoed: a pasted key must not reach an error message
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("must name an environment variable (letters, digits and _), "
                             "not hold the key itself")
        return value

    def client_extras(self) -> dict[str, Any]:
        """The client settings declared here rather than in ``LiveClientConfig``:
        ``retry_after_max`` and ``api_key_env``."""
        return {"retry_after_max": self.retry_after_max, "api_key_env": self.api_key_env}


class ModelConfig(LiveClientConfig, _ClientExtras):
    """One model of a multi-model config (``models``): its id and how to reach it, with
    the same client settings as a one-model ``backend``."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:-]+$")
    """The model's name in arm ids (prompt@id), policies and reports (letters, digits,
    . _ : -)."""



class LiveBackendConfig(LiveClientConfig, _ClientExtras, _Backend):
    """A model through LiteLLM: the client's settings plus the run's use of them, and two
    more client settings declared here (``client_extras``: the key's variable and the
    Retry-After cap)."""

    kind: Literal["live"]
    """Always 'live'."""
    model: str | None = Field(None, min_length=1)
    """A LiteLLM model string, e.g. openai/gpt-4o-mini (required unless the config lists
    ``models``; then omit it and every client setting here)."""
    n_max: int | None = Field(None, ge=1, le=256)
    """Largest N, the number of samples per query (null: 16)."""
    cache_dir: str = ".iapo-cache"
    """The completion cache's directory (relative to the config file). --resume uses
    the run's own (summary.json: cache_dir) unless this value was changed."""


class ReplayBackendConfig(_Backend):
    """A file written by ``iapo record``: completions served again, no network."""

    kind: Literal["replay"]
    """Always 'replay'."""
    path: str = Field(min_length=1)
    """The .replay.npz file (relative to the config file)."""
    n_max: int | None = Field(None, ge=1, le=256)
    """Largest N to use (null: the recorded samples per prompt and query). It may exceed
    them: a pull draws N of the recorded completions with replacement."""


BACKEND_CONFIGS: dict[str, type[_Backend]] = {
    get_args(model.model_fields["kind"].annotation)[0]: model
    for model in (CategoricalBackendConfig, SyntheticBackendConfig, LiveBackendConfig,
                  ReplayBackendConfig)
}
"""Each backend kind's config model, by kind."""

BackendConfig = Annotated[
    CategoricalBackendConfig | SyntheticBackendConfig | LiveBackendConfig | ReplayBackendConfig,
    Field(discriminator="kind"),
]
"""Where completions come from: one model per ``kind``."""


def _refuse_secrets(settings: dict[str, Any]) -> None:
    """A ValueError naming the first setting (walked recursively) that holds a secret, by
    its name (api_key, X-Key, access_token; not max_tokens) or by its value's shape (sk-…,
    Bearer …, a long high-entropy token). The message never quotes the value."""
    from ._secrets import find_secret  # only when a config has such settings

    found = find_secret(settings, "")
    if found is None:
        return
    where, how = found
    what = "looks like a secret" if how == "name" else "holds a key-shaped value"
    raise ValueError(f"'{where}' {what}: put API keys in the environment (e.g. "
                     f"OPENAI_API_KEY), never in a config file")


SET_BY_CLIENT = {
    "model": "use backend.model", "messages": "the prompts render them",
    "n": "from N; see backend.max_n and backend.supports_n", "stream": "never streamed",
    "timeout": "use backend.timeout", "max_retries": "use backend.max_retries",
    "num_retries": "iapo retries; use backend.max_retries", "api_base": "use backend.api_base",
    "base_url": "use backend.api_base",
}
"""Request keys the client passes to LiteLLM itself, with where to set them instead: neither
``backend.params`` nor a prompt's ``decoding`` may set them (given twice, every request
would fail)."""

_SAMPLING_LIMITS: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0), "top_p": (float, 0.0, 1.0),
    "presence_penalty": (float, -2.0, 2.0), "frequency_penalty": (float, -2.0, 2.0),
    "max_tokens": (int, 1, 2**31 - 1), "max_completion_tokens": (int, 1, 2**31 - 1),
    "top_k": (int, 1, 2**31 - 1), "seed": (int, 0, 2**63 - 1),
}
"""Common sampling settings with the type and limits providers accept (OpenAI's API
reference); a value outside them would be refused by the provider mid-run, after part of
the budget was paid."""


MAPPING_PARAMS = ("extra_body", "headers", "extra_headers")
"""``params`` that must be mappings: the transports merge them into the request's body
(``extra_body``) or headers."""


def check_sampling_values(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` unchanged, or a ValueError naming the first common sampling setting
    whose value has the wrong type or lies outside its limits (``_SAMPLING_LIMITS``)."""
    for key, (kind, low, high) in _SAMPLING_LIMITS.items():
        if key not in settings:
            continue
        value = settings[key]
        number = (isinstance(value, int) if kind is int else isinstance(value, int | float)
                  ) and not isinstance(value, bool)
        if not number or not low <= value <= high:
            what = "an integer" if kind is int else "a number"
            bounds = f"[{low}, {high}]" if kind is int else f"[{low:g}, {high:g}]"
            # a number is shown; anything else only by its type (it could be a pasted key)
            got = repr(value) if number else type(value).__name__
            raise ValueError(f"'{key}' must be {what} in {bounds}, got {got}")
    return settings


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


# -- the rest of the experiment --------------------------------------------------------------

class FieldError(ValueError):
    """A problem a whole-config check finds at one field: ``field`` is its dotted path (the
    config loader reports it there rather than at the top level)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class PromptConfig(_Strict):
    """A prompt arm: template plus optional decoding settings (used by live backends)."""

    id: str = Field(min_length=1)
    """The arm's name in policies and reports."""
    template: str = ""
    """The user message; {field} placeholders name dataset fields (live backends)."""
    system: str | None = None
    """An optional system message (live backends)."""
    decoding: dict[str, Any] = Field(default_factory=dict)
    """Decoding settings for this arm, e.g. temperature (live backends; not n or model)."""
    models: list[str] | None = None
    """The ids of the models (``models``) this prompt runs on (null: every model)."""

    @model_validator(mode="after")
    def _no_secrets(self) -> PromptConfig:
        _refuse_secrets({"decoding": self.decoding})
        return self

    @field_validator("decoding")
    @classmethod
    def _decoding_values(cls, decoding: dict[str, Any]) -> dict[str, Any]:
        return check_sampling_values(decoding)


class ObjectiveConfig(_Strict):
    """A task objective. Live Best-of-N runs score it with ``scorer`` (see
    ``iapo_cli.tasks``); ``range`` overrides the scorer's declared range."""

    name: str = Field(min_length=1)
    """The objective's name, as context weights refer to it."""
    scorer: str | None = None
    """How a completion is scored (live Best-of-N), e.g. a built-in, python:MODULE:FN or a
    judge."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Settings passed to the scorer."""
    range: tuple[float, float] | None = None
    """[low, high] of the scores (null: the scorer's declared range)."""

    @model_validator(mode="after")
    def _no_secrets(self) -> ObjectiveConfig:
        _refuse_secrets({"params": self.params})  # a judge's settings reach a provider
        return self

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"must be [low, high] with low < high, got {list(value)}")
        return value


class CostConfig(_Strict):
    """What a completion costs."""

    measure: Literal["completion_tokens", "total_tokens", "money", "latency"] = (
        "completion_tokens"
    )
    """The cost measure of a completion (money: LiteLLM's prices, live backends)."""
    scale: float = Field(1.0, gt=0)
    """A completion's cost is its measure times this (e.g. 0.001: thousands of tokens;
    live backends)."""


class ContextConfig(_Strict):
    """A user context: how much each objective (and cost) matters, and optionally a cap on
    what one query may cost to answer."""

    name: str = Field(min_length=1)
    """The context's name in policies and reports."""
    weights: dict[str, float]
    """Weight per objective name, plus 'cost' (>= 0, multiplies minus the cost)."""
    probability: float | None = Field(None, ge=0)
    """How often the context occurs (give it for every context or for none: uniform)."""
    max_cost_per_query: float | None = Field(None, gt=0)
    """The most one query's answer may cost, in USD (expected, all N completions; null: no
    cap). Needs prices for every model."""
    max_n: int | None = Field(None, ge=1)
    """The largest N this context accepts (null: any in the grid)."""


class BudgetConfig(_Strict):
    """A budget in one unit: exactly one of its fields is given."""

    completions: int | None = Field(None, gt=0)
    """Completions training may draw in total (the same as a plain number)."""
    usd: float | None = Field(None, gt=0)
    """US dollars training may spend (live backends with prices; needs max_tokens)."""
    tokens: int | None = Field(None, gt=0)
    """Tokens (prompt plus completion) training may use (live backends; needs max_tokens)."""
    cost: float | None = Field(None, gt=0)
    """Cost units of an offline environment's per-completion costs training may spend."""

    @model_validator(mode="after")
    def _one_unit(self) -> BudgetConfig:
        given = [name for name in BUDGET_UNITS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(BUDGET_UNITS)}"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self


BUDGET_UNITS = ("completions", "usd", "tokens", "cost")
"""The units a budget may be given in; a plain number counts completions."""


def _budget_branch(value: Any) -> str:
    # a mapping is a budget in a unit, anything else a count (its errors read as before);
    # the tags are capitalised so that error locations drop them (config._load)
    return "BudgetConfig" if isinstance(value, dict | BudgetConfig) else "Count"


class ContextGrid(_Strict):
    """Contexts as the cartesian product of per-weight values (uniform over the grid)."""

    grid: dict[str, list[float]]
    """Values per weight name (objectives and 'cost'); every combination is a context."""

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
    """The training algorithm and its parameters."""

    name: str = "psst"
    """The algorithm (psst, psst_topk, uniform, ucb, ...)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The algorithm's parameters by name, e.g. rho for psst."""


_HUB_ID = r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?"
"""A Hub repository id: a name, or namespace/name."""


class DatasetConfig(_Strict):
    """Queries for live backends: a .jsonl, .csv or .parquet file, a directory a Hugging Face
    dataset's save_to_disk wrote (``path``), or a dataset on the Hugging Face Hub (``hf``).
    Every value is read as text (numbers, lists and objects as JSON writes them, null as
    empty). Templates may use ``input_fields`` (default: any field of every row);
    ``target_field`` holds the gold answer."""

    path: str | None = Field(None, min_length=1)
    """The .jsonl, .ndjson, .csv, .parquet or .pq file, or a directory written by a Hugging
    Face Dataset's or DatasetDict's save_to_disk (relative to the config file). Give path
    or hf, not both."""
    hf: str | None = Field(None, min_length=1)
    """A dataset on the Hugging Face Hub, e.g. openai/gsm8k, loaded by the datasets library
    into the Hugging Face cache (HF_HOME); with HF_HUB_OFFLINE=1 only from that cache.
    Needs split. Give path or hf, not both."""
    config: str | None = Field(None, min_length=1)
    """The hf dataset's configuration (subset), e.g. main (null: its default one)."""
    split: str | None = Field(None, min_length=1)
    """The split to use, e.g. test (with hf, datasets' slices such as test[:200] too):
    required with hf and with a saved DatasetDict directory, refused for a file."""
    revision: str | None = Field(None, min_length=1)
    """The hf dataset's git revision (branch, tag or commit hash) to pin its rows, so a
    later evaluate reads the same queries (null: the latest; offline: the cache's latest)."""
    input_fields: list[str] = Field(default_factory=list)
    """The fields templates may use (empty: every field of every row)."""
    target_field: str | None = None
    """The field holding the gold answer (majority voting needs it)."""
    id_field: str | None = None
    """The field naming each row (null: the row number)."""
    duplicates: Literal["error", "drop", "keep"] = "error"
    """Rows that repeat an earlier row in every field the templates use (the model would
    see the same question): 'error' refuses the dataset, naming them; 'drop' uses the first
    of each only; 'keep' uses every row, each with samples of its own."""

    @model_validator(mode="after")
    def _one_source(self) -> DatasetConfig:
        if self.path is not None and self.hf is not None:
            raise FieldError("dataset.hf", "give dataset.path or dataset.hf, not both")
        if self.path is None and self.hf is None:
            raise FieldError("dataset.path", "is required (or dataset.hf, a dataset on the "
                                             "Hugging Face Hub)")
        if self.hf is not None and self.split is None:
            raise FieldError("dataset.split", "is required with dataset.hf (e.g. test)")
        for name in ("config", "revision"):
            if self.hf is None and getattr(self, name) is not None:
                raise FieldError(f"dataset.{name}", "applies to dataset.hf only")
        return self

    @field_validator("hf")
    @classmethod
    def _hub_id(cls, value: str | None) -> str | None:
        # datasets would read a path here as a local directory, relative to the working
        # directory rather than to the config file: files and directories go in path
        if value is not None and not re.fullmatch(_HUB_ID, value):
            raise ValueError(f"must be a Hugging Face Hub dataset id such as openai/gsm8k, "
                             f"not {value!r} (a file or a saved directory goes in "
                             f"dataset.path)")
        return value


class AnswerConfig(_Strict):
    """Answer extraction: a preset (default 'auto') or a regular expression, not both."""

    preset: Literal[ANSWER_PRESETS] | None = "auto"
    """Where the answer is: 'auto' (\\boxed{}, else an 'Answer:' line, else 'the answer
    is ...', else the last number), 'answer_line', 'boxed', 'answer_is', 'last_number',
    'choice' (a letter A-E) or 'math' (found as 'auto', compared by value with math-verify:
    1/2 = 0.5 = \\frac{1}{2}). Null when ``pattern`` is given."""
    pattern: str | None = None
    """A regular expression instead of a preset; group 1 of its last match is the answer
    (iapo's former default: '(?im)^\\s*answer\\s*:\\s*(.+?)\\s*$')."""
    lowercase: bool = True
    """Compare answers case-insensitively."""
    numeric: bool = True
    """Compare answers that parse as numbers by value (1.0 = 1)."""

    @model_validator(mode="before")
    @classmethod
    def _pattern_or_preset(cls, data: Any) -> Any:
        # a pattern replaces the default preset; a pattern and a preset both given is a
        # contradiction, reported at the pattern
        if isinstance(data, dict) and data.get("pattern") is not None:
            if data.get("preset") is not None:
                raise FieldError("answer.pattern", f"give either a pattern or a preset "
                                 f"('{data['preset']}'), not both")
            data = {**data, "preset": None}
        return data


class AnswerHealthConfig(_Strict):
    """When a live run stops early, before its budget goes, because its completions give
    nothing to score (an answer extraction that matches nothing, max_tokens too small)."""

    stop_early: bool = True
    """Stop the run (exit 1, status failed, resumable) when a model's first completions,
    all its prompts together, mostly have no answer or mostly hit max_tokens; false: go
    on whatever they say."""
    window: int | None = Field(None, ge=5)
    """How many first completions per model the check looks at (null: 1% of a budget in
    completions, within 20..50 and at most 5% of it; 20 for a budget in another unit)."""
    max_unanswered: float = Field(0.5, ge=0, le=1)
    """The run stops when more than this share of them have no answer (or are empty)."""
    max_truncated: float = Field(0.5, ge=0, le=1)
    """The run stops when more than this share of them were cut at max_tokens."""


class SplitConfig(_Strict):
    """How queries split into training and test."""

    test_fraction: float = Field(0.2, gt=0, lt=1)
    """The share of queries held out for ``iapo evaluate``."""


def _unique_ids(items: list | None, kind: str) -> list | None:
    """``items`` (objects with an ``id``) unchanged: refuses an empty list or a repeated id."""
    if items is None:
        return items
    if not items:
        raise ValueError("must not be empty")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"duplicate {kind} id '{item.id}'")
        seen.add(item.id)
    return items


class Config(_Strict):
    """An experiment: where completions come from, what is optimised, and the budget."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    """The run's name (letters, digits, . _ -); run directories start with it."""
    backend: BackendConfig
    """Where completions come from; its ``kind`` decides which other keys it takes."""
    models: list[ModelConfig] | None = None
    """Several models for a live backend (arms are prompt x model, ids 'prompt@model');
    then ``backend`` takes only kind, n_max and cache_dir (null: backend.model)."""
    strategy: str | None = None
    """The inference strategy, a registered name (majority_vote, adaptive_vote, best_of_n;
    null: the backend's own). It must use the kind of pull the backend delivers."""
    prompts: list[PromptConfig] | None = None
    """The prompt arms (live backends need them; others may rename theirs)."""
    dataset: DatasetConfig | None = None
    """The queries of a live backend."""
    answer: AnswerConfig | None = None
    """How answers are extracted from completions (live backends; null: the defaults)."""
    answer_health: AnswerHealthConfig = Field(default_factory=AnswerHealthConfig)
    """When a live run stops early because its completions give nothing to score."""
    objectives: list[ObjectiveConfig] | None = None
    """The task objectives (live Best-of-N needs them; others must match the backend's)."""
    cost: CostConfig = Field(default_factory=CostConfig)
    """How completions are costed."""
    scales: Literal["max"] | list[int] = "max"
    """The N values to choose among: 'max' (1..n_max) or a list of integers."""
    contexts: list[ContextConfig] | ContextGrid | None = None
    """The user contexts, as a list or a grid (null: the backend's own)."""
    budget: Annotated[Annotated[int, Field(gt=0), Tag("Count")]
                      | Annotated[BudgetConfig, Tag("BudgetConfig")],
                      Discriminator(_budget_branch)]
    """Completions training may draw in total (a number), or {usd: 20}, {tokens: 2000000},
    {completions: 5000}, {cost: 500} (offline environments' cost units): a hard ceiling."""
    algorithm: AlgorithmConfig = Field(default_factory=AlgorithmConfig)
    """The training algorithm."""
    seed: int = Field(0, ge=0)
    """Seed of the run: the train/test split and the algorithm's draws."""
    split: SplitConfig = Field(default_factory=SplitConfig)
    """How queries split into training and test."""
    output: str = "runs"
    """Where run directories (and iapo record's default replay file) are made
    (relative to the config file)."""

    def stored(self) -> dict:
        """Every setting with its default filled in, as plain data that validates again
        (the backend holds exactly its kind's fields, ``kind`` first; with ``models`` only
        kind, n_max and cache_dir; the budget a number of completions or
        ``{unit: amount}``). ``models`` and a prompt's ``models`` are left out while null,
        so a one-model config's stored sections other than the backend read as they always
        did."""
        out = self.model_dump(mode="json")
        if out.get("models") is None:
            out.pop("models", None)
        else:  # the backend holds no client setting then: kind, n_max and cache_dir only
            out["backend"] = {key: value for key, value in out["backend"].items()
                              if key in ("kind", "n_max", "cache_dir")}
        for prompt in out.get("prompts") or ():
            if prompt.get("models") is None:
                prompt.pop("models", None)
        unit, amount = self.budget_spec()  # {completions: X} is X; other units one key
        out["budget"] = amount if unit == "completions" else {unit: amount}
        return out

    def model_label(self) -> str | None:
        """The live model a person reads: ``backend.model``, or the ``models`` ids joined
        by ',' (None for other backends)."""
        if self.models is not None:
            return ",".join(model.id for model in self.models)
        return getattr(self.backend, "model", None)

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[ModelConfig] | None) -> list[ModelConfig] | None:
        return _unique_ids(value, "model")

    @model_validator(mode="after")
    def _models_and_backend(self) -> Config:
        live = isinstance(self.backend, LiveBackendConfig)
        if self.models is not None and not live:
            raise FieldError("models", f"needs a live backend (kind 'live'), not "
                                       f"'{self.backend.kind}'")
        if live and self.models is None and self.backend.model is None:
            raise FieldError("backend.model", "is required")
        if live and self.models is not None:
            given = [name for name in (*LiveClientConfig.model_fields, "retry_after_max",
                                       "api_key_env")
                     if name in self.backend.model_fields_set]
            if given:
                raise FieldError(f"backend.{given[0]}", "set it per model in models (with "
                                 "models, backend takes only kind, n_max and cache_dir)")
        ids = {model.id for model in self.models or ()}
        for i, prompt in enumerate(self.prompts or ()):
            if prompt.models is None:
                continue
            if self.models is None:
                raise FieldError(f"prompts[{i}].models", "names models, but the config "
                                 "lists none (models)")
            if not prompt.models:
                raise FieldError(f"prompts[{i}].models", "must not be empty (null: every "
                                 "model)")
            for j, name in enumerate(prompt.models):
                if name not in ids:
                    raise FieldError(f"prompts[{i}].models[{j}]",
                                     f"unknown model id '{name}' (known: "
                                     f"{', '.join(sorted(ids))})")
            if len(set(prompt.models)) != len(prompt.models):
                raise FieldError(f"prompts[{i}].models", "must not repeat a model id")
        return self

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, value: list[PromptConfig] | None) -> list[PromptConfig] | None:
        return _unique_ids(value, "prompt")

    @field_validator("budget")
    @classmethod
    def _budget(cls, value):
        if isinstance(value, int):
            return check_budget(value)
        if value.completions is not None:
            check_budget(value.completions)
        return value

    def budget_spec(self) -> tuple[str, float]:
        """(unit, amount) of the budget: ('completions', 4000) for a plain number."""
        if isinstance(self.budget, int):
            return "completions", self.budget
        for unit in BUDGET_UNITS:
            amount = getattr(self.budget, unit)
            if amount is not None:
                return unit, amount
        raise AssertionError("a BudgetConfig has exactly one unit")  # _one_unit

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
