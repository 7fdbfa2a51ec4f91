"""The simulator as a LiteLLM custom provider (model strings ``iapo-sim/<anything>``)."""

from __future__ import annotations

from ..sim import SimulatedModel, token_count


def make_sim_provider(litellm, model: SimulatedModel):
    """A ``litellm.CustomLLM`` answering with ``model``; the client passes the first
    sample slot in ``metadata['iapo_slot']`` (real providers never see it)."""

    class SimProvider(litellm.CustomLLM):
        def _respond(self, model_name, messages, optional_params, litellm_params):
            n = int(optional_params.get("n") or 1)
            temperature = float(optional_params.get("temperature", 1.0))
            metadata = (litellm_params or {}).get("metadata") or {}
            texts = model.respond(messages, temperature, int(metadata.get("iapo_slot", 0)), n)
            prompt_tokens = sum(token_count(str(m.get("content") or "")) for m in messages)
            completion_tokens = sum(token_count(t) for t in texts)
            return litellm.ModelResponse(
                model=f"iapo-sim/{model_name}",
                choices=[{"index": i, "finish_reason": "stop",
                          "message": {"role": "assistant", "content": t}}
                         for i, t in enumerate(texts)],
                usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                       "total_tokens": prompt_tokens + completion_tokens},
            )

        def completion(self, model, messages, *args, optional_params=None,
                       litellm_params=None, **kwargs):
            return self._respond(model, messages, optional_params or {}, litellm_params)

        async def acompletion(self, model, messages, *args, optional_params=None,
                              litellm_params=None, **kwargs):
            return self._respond(model, messages, optional_params or {}, litellm_params)

    return SimProvider()
