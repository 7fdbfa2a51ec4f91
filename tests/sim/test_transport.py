"""The simulator as a transport: registered for iapo-sim, the model's texts slot by slot,
the simulator's token counts, no price, and no LiteLLM anywhere on the way."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from iapo_cli.llm import ChatRequest, ClientSettings, CompletionCache, LLMClient, make_transport
from iapo_cli.sim import SimTransport, SimulatedModel, token_count

ROOT = Path(__file__).resolve().parents[2]


def messages_for(model: SimulatedModel, index: int) -> list[dict]:
    return [{"role": "system", "content": "You are an expert."},
            {"role": "user", "content": model.problems[index].question + " Answer: <n>"}]


def test_iapo_sim_models_get_the_simulator():
    transport = make_transport(ClientSettings("iapo-sim/arith"))
    assert isinstance(transport, SimTransport)
    assert transport.supports_n() and transport.prices() is None


def test_a_request_is_the_models_response_with_its_token_counts():
    model = SimulatedModel()
    transport = SimTransport(ClientSettings("iapo-sim/arith"), model)
    messages = messages_for(model, 4)
    reply = asyncio.run(transport.send(messages, {"temperature": 0.7}, 5, 3))
    assert reply.texts == model.respond(messages, 0.7, 3, 5)
    assert reply.prompt_tokens == sum(token_count(m["content"]) for m in messages)
    assert reply.completion_tokens == sum(token_count(t) for t in reply.texts)
    default = asyncio.run(transport.send(messages, {}, 2, 0))
    assert default.texts == model.respond(messages, 1.0, 0, 2)


def test_temperature_from_params_unless_the_decoding_sets_it():
    model = SimulatedModel()
    transport = SimTransport(ClientSettings("iapo-sim/arith", params={"temperature": 0}),
                             model)
    messages = messages_for(model, 7)
    assert asyncio.run(transport.send(messages, {}, 3, 0)).texts == \
        model.respond(messages, 0.0, 0, 3)
    assert asyncio.run(transport.send(messages, {"temperature": 1.2}, 3, 0)).texts == \
        model.respond(messages, 1.2, 0, 3)


def test_the_client_serves_each_slot_its_own_simulated_sample(tmp_path):
    model = SimulatedModel()
    messages = messages_for(model, 2)
    client = LLMClient(ClientSettings("iapo-sim/arith", max_n=4),
                       CompletionCache(tmp_path / "cache"))
    out = client.complete([ChatRequest(messages, {}, range(2, 12))])
    assert [c.text for c in out[0]] == model.respond(messages, 1.0, 2, 10)
    usage = client.usage["completion"]
    assert (usage.requests, usage.fresh, usage.cost) == (3, 10, None)
    assert not client.price_known()


def test_a_simulated_run_never_imports_litellm(tmp_path):
    code = ("import sys, iapo_cli.sim\n"
            "from iapo_cli.llm import ChatRequest, ClientSettings, CompletionCache, LLMClient\n"
            "client = LLMClient(ClientSettings('iapo-sim/arith'), CompletionCache(sys.argv[1]))\n"
            "client.complete([ChatRequest([{'role': 'user', 'content': 'hi'}], {}, [0, 1])])\n"
            "print(client.price_known(), 'litellm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cache")],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]
