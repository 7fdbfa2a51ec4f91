"""Build a live environment from a config (every check before any call)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import sim  # noqa: F401  (registers the iapo-sim transport for _client)
from ..artifacts import check_creatable
from ..backends import (
    Contexts,
    Environment,
    LiveBackend,
    PromptArm,
    max_completion_tokens,
)
from ..config import SET_BY_CLIENT, Config, PromptConfig
from ..errors import ConfigError
from ..llm import CompletionCache, LiveSettings, LLMClient
from ..strategies import STRATEGIES, VOTES
from ..tasks import (
    AnswerExtractor,
    Template,
    build_extractor,
    build_scorer,
    handle_duplicates,
    load_dataset,
)
from ..tasks._dataset import load_hub_dataset
from ._backends import config_path, register_backend

if TYPE_CHECKING:
    from ..tasks import Dataset

_CLIENT_KEYS = (*SET_BY_CLIENT, "api_key")
"""Request keys the client sets itself (the config's one table, plus the key it reads from
the environment); a prompt's decoding settings may not."""


MISSING_ENVIRONMENT = "missing_environment"
"""``Environment.info`` key of a live environment: (config field, what is missing) per
client whose transport lacks an environment variable (an API key); ``resolve`` refuses to
run such an environment, ``iapo validate`` warns."""


def _client(settings: dict, cache: CompletionCache, field: str,
            missing: list[tuple[str, str]], section: str = "backend") -> LLMClient:
    """A client for ``settings``; when the environment lacks what its transport needs (the
    variable named by ``api_key_env``, else the provider's key; an ``api_base`` server
    needs none), (config field, problem) is appended to ``missing``. ``field`` names the
    config field the model comes from, ``section`` the one holding its settings (backend,
    models[i]); problems name variables, never their values."""
    client = LLMClient(LiveSettings(**settings), cache)
    lacking = client.missing_environment()
    if lacking and settings.get("api_key_env"):
        missing.append((f"{section}.api_key_env",
                        f"the environment variable {settings['api_key_env']} (the API key "
                        f"of {settings['model']}) is not set"))
    elif lacking:
        missing.append((field, f"{settings['model']} needs {' and '.join(lacking)} in the "
                               f"environment, which is not set (or name the key's variable "
                               f"in backend.api_key_env)"))
    return client


def _require_inputs(config: Config, source: str) -> None:
    if config.dataset is None:
        raise ConfigError("kind 'live' needs a dataset", source=source, field="dataset")
    if not config.prompts:
        raise ConfigError("kind 'live' needs prompts", source=source, field="prompts")


def _dataset(config: Config, source: str) -> Dataset:
    """The dataset (a file or saved directory at ``path``, or the hub's ``hf``), its
    ``input_fields`` and ``target_field`` checked against its rows."""
    data = config.dataset
    if data.hf is not None:
        dataset = load_hub_dataset(data.hf, data.split, data.config, data.revision,
                                   data.id_field, source)
    else:
        dataset = load_dataset(config_path(source, data.path), data.id_field, source,
                               split=data.split)
    for i, name in enumerate(data.input_fields):
        if name not in dataset.fields:
            raise ConfigError(f"'{name}' is not a field of every row", source=source,
                              field=f"dataset.input_fields[{i}]")
    if data.target_field is not None and data.target_field not in dataset.fields:
        raise ConfigError(f"'{data.target_field}' is not a field of every row",
                          source=source, field="dataset.target_field")
    if data.target_field is not None:  # a row without its gold answer scores as all wrong
        for row_id, row in zip(dataset.ids, dataset.rows, strict=True):
            if not row[data.target_field].strip():
                raise ConfigError(f"row {row_id} has no gold answer (null or empty)",
                                  source=source, field="dataset.target_field")
    return dataset


def _dataset_label(data) -> str:
    """The dataset as a person names it: its path, or ``hf:name`` with config and split."""
    if data.hf is None:
        return data.path if data.split is None else f"{data.path} ({data.split})"
    return f"hf:{data.hf} ({', '.join(p for p in (data.config, data.split) if p)})"


def _prompt_arm(i: int, prompt: PromptConfig, usable: set[str], source: str) -> PromptArm:
    """``config.prompts[i]`` as an arm whose template names only ``usable`` fields."""
    where = f"prompts[{i}].template"
    if not prompt.template.strip():
        raise ConfigError("is required for a live backend", source=source, field=where)
    try:
        template = Template(prompt.template)
    except ValueError as exc:
        raise ConfigError(str(exc), source=source, field=where) from None
    for name in template.fields:
        if name not in usable:
            raise ConfigError(f"names field '{name}', which is not among the dataset's "
                              f"fields ({', '.join(sorted(usable))})", source=source,
                              field=where)
    for key in prompt.decoding:
        if key in _CLIENT_KEYS:
            raise ConfigError(f"'{key}' cannot be set per prompt", source=source,
                              field=f"prompts[{i}].decoding.{key}")
    return PromptArm(prompt.id, template, prompt.system, dict(prompt.decoding))


def _prompt_arms(config: Config, dataset: Dataset, source: str) -> list[PromptArm]:
    usable = set(config.dataset.input_fields) or set(dataset.fields)
    return [_prompt_arm(i, prompt, usable, source) for i, prompt in enumerate(config.prompts)]


def _answer_extractor(config: Config, source: str) -> AnswerExtractor:
    """The extractor of ``config.answer`` (no section: preset 'auto'); a pattern that does
    not compile or has no group, or a preset that cannot run (math without math-verify),
    is a ConfigError at that field."""
    answer = config.answer.model_dump() if config.answer else {}
    field = "answer.pattern" if answer.get("pattern") is not None else "answer.preset"
    try:
        return build_extractor(**answer)
    except (re.error, ValueError) as exc:
        raise ConfigError(str(exc), source=source, field=field) from None


def _majority_vote_extractor(config: Config, source: str) -> AnswerExtractor:
    """The extractor that turns completions into votes; majority voting needs the gold
    answer and has the single objective 'correct'."""
    if config.dataset.target_field is None:
        raise ConfigError("majority voting needs the gold answer's field", source=source,
                          field="dataset.target_field")
    extractor = _answer_extractor(config, source)
    if config.objectives is not None and [o.name for o in config.objectives] != ["correct"]:
        raise ConfigError("majority voting has the single objective 'correct'",
                          source=source, field="objectives")
    return extractor


def _judge_maker(settings: dict, cache: CompletionCache, judges: list[LLMClient],
                 missing: list[tuple[str, str]], field: str) -> Callable[[dict], LLMClient]:
    """What a judge scorer calls to get its client: the run's model settings without the
    provider extras (``params``, ``supports_n``, ``api_base``; ``api_key_env`` unless the
    judge is the run's own model) unless ``overrides`` give them; every client made is
    appended to ``judges`` (for accounting). ``field`` names the judge's settings."""
    def judge(overrides: dict) -> LLMClient:
        same_model = overrides.get("model", settings["model"]) == settings["model"]
        judge_client = _client({**settings, "params": {}, "supports_n": None,
                                "api_base": None,
                                "api_key_env": settings["api_key_env"] if same_model else None,
                                "price": settings.get("price") if same_model else None,
                                **overrides}, cache, field, missing)
        judges.append(judge_client)
        return judge_client

    return judge


def _best_of_n_scorers(config: Config, source: str, extractor: AnswerExtractor | None,
                       judge: Callable[[str], Callable[[dict], LLMClient]]
                       ) -> list[tuple[str, object]]:
    """(objective name, scorer) per configured objective, in order; ``judge(field)`` makes
    the judge-client maker of the objective at ``field``."""
    if not config.objectives:
        raise ConfigError("Best-of-N needs objectives, each with a scorer", source=source,
                          field="objectives")
    scorers = []
    for i, objective in enumerate(config.objectives):
        if not objective.scorer:
            raise ConfigError("needs a scorer for a live backend", source=source,
                              field=f"objectives[{i}].scorer")
        try:
            scorer = build_scorer(objective.scorer, objective.params, objective.range,
                                  extractor, Path(source).parent.resolve(),
                                  judge(f"objectives[{i}].params.model"))
        except ValueError as exc:
            raise ConfigError(str(exc), source=source,
                              field=f"objectives[{i}].scorer") from None
        scorers.append((objective.name, scorer))
    return scorers


def _check_price(config: Config, models: list[ModelClient], source: str) -> None:
    if config.cost.measure != "money":
        return
    for model in models:
        if not model.client.price_known():
            raise ConfigError(f"LiteLLM has no price for '{model.client.settings.model}'; "
                              f"give {model.section}.price or use a token or latency "
                              "measure", source=source,
                              field="cost.measure")


@dataclass(frozen=True)
class ModelClient:
    """One model of a live run: its id (None for a one-model config), its client, and the
    config section holding its settings (``backend`` or ``models[i]``)."""

    id: str | None
    client: LLMClient
    section: str


def _settings(spec) -> dict:
    """The client settings of a backend or a ``models`` entry (price in USD per token)."""
    settings = {**spec.client_fields(), **spec.client_extras()}
    settings["price"] = spec.price.per_token() if spec.price is not None else None
    return settings


def _model_clients(config: Config, cache: CompletionCache, missing: list[tuple[str, str]]
                   ) -> list[ModelClient]:
    if config.models is None:
        return [ModelClient(None, _client(_settings(config.backend), cache, "backend.model",
                                          missing), "backend")]
    return [ModelClient(model.id, _client(_settings(model), cache, f"models[{i}].model",
                                          missing, f"models[{i}]"), f"models[{i}]")
            for i, model in enumerate(config.models)]


def _model_arms(config: Config, prompts: list[PromptArm], models: list[ModelClient]
                ) -> tuple[list[PromptArm], list[int], list[int]]:
    """The arms of a multi-model config, prompt x model (a prompt's ``models`` restricting
    it): (arms with ids 'prompt@model', per arm its prompt index, per arm its model index)."""
    arms, prompt_of, model_of = [], [], []
    for i, (prompt, spec) in enumerate(zip(prompts, config.prompts, strict=True)):
        for j, model in enumerate(models):
            if spec.models is not None and model.id not in spec.models:
                continue
            arms.append(replace(prompt, id=f"{prompt.id}@{model.id}"))
            prompt_of.append(i)
            model_of.append(j)
    return arms, prompt_of, model_of


def _check_max_tokens(config: Config, arms: list[PromptArm], prompt_of: list[int],
                      model_of: list[int], models: list[ModelClient], source: str) -> None:
    """A budget in usd or tokens bounds a pull's worst case by max_tokens: every arm needs
    one (its model's params or its prompt's decoding)."""
    unit = config.budget_spec()[0]
    if unit not in ("usd", "tokens"):
        return
    for arm, i, j in zip(arms, prompt_of, model_of, strict=True):
        settings = {**models[j].client.settings.params, **(arm.decoding or {})}
        if max_completion_tokens(settings) is None:
            raise ConfigError(f"a budget in {unit} needs max_tokens (or "
                              f"max_completion_tokens) for every arm: '{config.prompts[i].id}'"
                              f" has none (set it here or in prompts[{i}].decoding)",
                              source=source, field=f"{models[j].section}.params.max_tokens")


@register_backend("live")
def build_live(config: Config, source: str) -> Environment:
    """A ``LiveBackend`` for the config: dataset loaded, templates checked against its
    fields, scorers built, money checked against the models' prices (given or LiteLLM's),
    max_tokens checked for a budget in usd or tokens, the environment's keys looked for
    (``MISSING_ENVIRONMENT``). Arms are the prompts (one model) or prompt x model
    (``models``). No request is sent."""
    spec = config.backend
    _require_inputs(config, source)
    dataset = _dataset(config, source)
    prompts = _prompt_arms(config, dataset, source)
    shown = sorted({name for arm in prompts for name in arm.template.fields})
    dataset = handle_duplicates(dataset, shown, config.dataset.duplicates, source)
    cache = CompletionCache(config_path(source, spec.cache_dir).resolve())
    check_creatable(cache.directory, "backend.cache_dir", source)  # before any is paid
    missing: list[tuple[str, str]] = []
    models = _model_clients(config, cache, missing)
    settings = _settings(config.backend if config.models is None else config.models[0])
    client = models[0].client
    if config.models is None:
        arms, prompt_of, model_of = prompts, list(range(len(prompts))), [0] * len(prompts)
    else:
        arms, prompt_of, model_of = _model_arms(config, prompts, models)
    _check_max_tokens(config, arms, prompt_of, model_of, models, source)
    judges: list[LLMClient] = []
    strategy_cls = STRATEGIES[config.strategy or "majority_vote"]
    if strategy_cls.pull_kind == VOTES:
        extractor, scorers = _majority_vote_extractor(config, source), None
        strategy = strategy_cls()
    else:
        extractor = _answer_extractor(config, source) if config.answer else None
        scorers = _best_of_n_scorers(
            config, source, extractor,
            lambda field: _judge_maker(settings, cache, judges, missing, field))
        strategy = strategy_cls(tuple(name for name, _ in scorers))
    _check_price(config, models, source)
    target = config.dataset.target_field
    several = {} if config.models is None else {
        "arm_clients": [models[j].client for j in model_of],
        "arm_models": [models[j].id for j in model_of],
        "arm_prompts": [config.prompts[i].id for i in prompt_of]}
    backend = LiveBackend(client, dataset, arms, spec.n_max or 16, target,
                          config.cost.measure, config.cost.scale, strategy, extractor, scorers,
                          judges, **several)
    objectives = backend.strategy.objectives
    contexts = Contexts(("default",), np.ones((1, len(objectives))), np.zeros(1), np.ones(1))
    label = spec.model if config.models is None else ",".join(m.id for m in models)
    return Environment(f"live:{label}", backend, contexts,
                       {"model": label, "dataset": _dataset_label(config.dataset),
                        MISSING_ENVIRONMENT: missing})
