"""Build live and replay environments from a config (every check before any call)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import sim  # noqa: F401  (registers the iapo-sim transport for _client)
from ..backends import Contexts, Environment, LiveBackend, PromptArm, load_replay
from ..config import Config
from ..errors import ConfigError
from ..llm import ClientSettings, CompletionCache, LLMClient
from ..strategies import STRATEGIES, VOTES
from ..tasks import AnswerExtractor, Template, build_scorer, load_dataset


def config_path(source: str, path: str) -> Path:
    """Paths in a config are relative to the config file."""
    out = Path(path).expanduser()
    return out if out.is_absolute() else Path(source).parent / out


def build_replay(config: Config, source: str) -> Environment:
    path = config_path(source, config.backend.path)
    if not path.is_file():
        raise ConfigError(f"file not found: {path}", source=source, field="backend.path")
    return load_replay(path, config.backend.n_max)


def _client(settings: dict, cache: CompletionCache) -> LLMClient:
    return LLMClient(ClientSettings(**settings), cache)


def build_live(config: Config, source: str) -> Environment:
    """A ``LiveBackend`` for the config: dataset loaded, templates checked against its
    fields, scorers built, money checked against LiteLLM's prices. No request is sent."""
    spec = config.backend
    if config.dataset is None:
        raise ConfigError("kind 'live' needs a dataset", source=source, field="dataset")
    if not config.prompts:
        raise ConfigError("kind 'live' needs prompts", source=source, field="prompts")
    data = config.dataset
    dataset = load_dataset(config_path(source, data.path), data.id_field, source)
    for i, name in enumerate(data.input_fields):
        if name not in dataset.fields:
            raise ConfigError(f"'{name}' is not a field of every row", source=source,
                              field=f"dataset.input_fields[{i}]")
    if data.target_field is not None and data.target_field not in dataset.fields:
        raise ConfigError(f"'{data.target_field}' is not a field of every row",
                          source=source, field="dataset.target_field")
    usable = set(data.input_fields) or set(dataset.fields)
    arms = []
    for i, prompt in enumerate(config.prompts):
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
            if key in ("n", "stream", "model", "messages", "api_key", "api_base"):
                raise ConfigError(f"'{key}' cannot be set per prompt", source=source,
                                  field=f"prompts[{i}].decoding.{key}")
        arms.append(PromptArm(prompt.id, template, prompt.system, dict(prompt.decoding)))
    cache = CompletionCache(Path(spec.cache_dir).expanduser())
    settings = {"model": spec.model, "api_base": spec.api_base, "timeout": spec.timeout,
                "concurrency": spec.concurrency, "max_retries": spec.max_retries,
                "retry_base_delay": spec.retry_base_delay, "supports_n": spec.supports_n,
                "params": dict(spec.params)}
    client = _client(settings, cache)
    judges: list[LLMClient] = []
    strategy_cls = STRATEGIES[config.strategy or "majority_vote"]
    extractor = scorers = None
    if strategy_cls.pull_kind == VOTES:
        if data.target_field is None:
            raise ConfigError("majority voting needs the gold answer's field", source=source,
                              field="dataset.target_field")
        answer = config.answer.model_dump() if config.answer else {}
        try:
            extractor = AnswerExtractor(**answer)
        except (re.error, ValueError) as exc:
            raise ConfigError(str(exc), source=source, field="answer.pattern") from None
        if config.objectives is not None and [o.name for o in config.objectives] != list(
                strategy_cls.objectives):
            raise ConfigError("majority voting has the single objective 'correct'",
                              source=source, field="objectives")
        strategy = strategy_cls()
    else:
        if not config.objectives:
            raise ConfigError("Best-of-N needs objectives, each with a scorer", source=source,
                              field="objectives")
        extractor = AnswerExtractor(**config.answer.model_dump()) if config.answer else None

        def judge(overrides: dict) -> LLMClient:
            judge_client = _client({**settings, "params": {}, "supports_n": None,
                                    "api_base": None, **overrides}, cache)
            judges.append(judge_client)
            return judge_client

        scorers = []
        for i, objective in enumerate(config.objectives):
            if not objective.scorer:
                raise ConfigError("needs a scorer for a live backend", source=source,
                                  field=f"objectives[{i}].scorer")
            try:
                scorer = build_scorer(objective.scorer, objective.params, objective.range,
                                      extractor, Path(source).parent.resolve(), judge)
            except ValueError as exc:
                raise ConfigError(str(exc), source=source,
                                  field=f"objectives[{i}].scorer") from None
            scorers.append((objective.name, scorer))
        strategy = strategy_cls(tuple(name for name, _ in scorers))
    if config.cost.measure == "money" and not client.price_known():
        raise ConfigError(f"LiteLLM has no price for '{spec.model}'; use a token or latency "
                          "measure", source=source, field="cost.measure")
    backend = LiveBackend(client, dataset, arms, spec.n_max or 16, data.target_field,
                          config.cost.measure, config.cost.scale, strategy, extractor, scorers,
                          judges)
    objectives = backend.strategy.objectives
    contexts = Contexts(("default",), np.ones((1, len(objectives))), np.zeros(1), np.ones(1))
    return Environment(f"live:{spec.model}", backend, contexts,
                       {"model": spec.model, "dataset": str(data.path)})
