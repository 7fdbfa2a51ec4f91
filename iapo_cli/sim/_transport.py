"""The simulator as a transport: model strings ``iapo-sim/<anything>`` answered in-process by
``SimulatedModel``, no LiteLLM and no network."""

from __future__ import annotations

import time
from functools import cache

from ..llm import ClientSettings, Reply
from ._model import DEFAULT_SKILL, SKILLS, SimulatedModel, token_count, truncate

SIM_PROVIDER = "iapo-sim"


@cache
def _shared_model() -> SimulatedModel:
    """One model per process: building the question bank is not free."""
    return SimulatedModel()


class SimTransport:
    """``send`` answers with ``SimulatedModel.respond(messages, temperature, first_slot, n)``
    (slot i always gives the same text). Temperature comes from the decoding over the
    settings' ``params`` (1.0 when neither sets it); other parameters are ignored. Tokens
    are counted with the simulator's tokenizer: the prompt's over every message's content,
    the completion's over the n texts. The name after ``iapo-sim/`` picks the model's
    skill (``SKILLS``; another name: ``arith``). ``max_completion_tokens`` (else
    ``max_tokens``) caps each text's tokens (``truncate``), as a provider does. Always
    supports ``n``; has no price (a config gives one)."""

    def __init__(self, settings: ClientSettings, model: SimulatedModel | None = None):
        self.settings = settings
        self.model = model if model is not None else _shared_model()
        self.skill = SKILLS.get(settings.model.split("/", 1)[-1], DEFAULT_SKILL)

    async def send(self, messages: list[dict], decoding: dict, n: int,
                   first_slot: int) -> Reply:
        start = time.perf_counter()
        settings = {**self.settings.params, **decoding}
        temperature = settings.get("temperature")
        temperature = 1.0 if temperature is None else float(temperature)
        texts = self.model.respond(messages, temperature, first_slot, n, self.skill)
        cap = next((settings[k] for k in ("max_completion_tokens", "max_tokens")
                    if settings.get(k) is not None), None)
        reasons = ["stop"] * len(texts)
        if cap is not None:
            cut = [truncate(text, int(cap)) for text in texts]
            reasons = ["length" if c != t else "stop" for c, t in zip(cut, texts, strict=True)]
            texts = cut
        prompt_tokens = sum(token_count(str(m.get("content") or "")) for m in messages)
        completion_tokens = sum(token_count(t) for t in texts)
        return Reply(texts, prompt_tokens, completion_tokens, time.perf_counter() - start,
                     reasons)

    def prompt_tokens_bound(self, messages: list[dict]) -> int:
        """The prompt tokens ``send`` bills for ``messages``, exactly."""
        return sum(token_count(str(m.get("content") or "")) for m in messages)

    def supports_n(self) -> bool:
        return True

    def prices(self) -> tuple[float, float] | None:
        return None
