"""Prompt tokens by LiteLLM's token counter, offline (``llm.count_prompt_tokens``)."""

from __future__ import annotations

import time

from iapo_cli.llm._litellm import count_prompt_tokens

MESSAGES = [{"role": "system", "content": "You are an expert mathematician."},
            {"role": "user", "content": "What is 17 + 25? Give the result as 'Answer: <n>'."}]


def test_openai_models_use_their_own_encoding_with_or_without_the_prefix():
    count, tokenizer = count_prompt_tokens("gpt-4o-mini", MESSAGES)
    assert tokenizer == "tiktoken o200k_base"
    assert count_prompt_tokens("openai/gpt-4o-mini", MESSAGES) == (count, tokenizer)
    longer, _ = count_prompt_tokens("gpt-4o-mini", [*MESSAGES, MESSAGES[1]])
    assert 20 < count < longer


def test_a_model_whose_tokenizer_needs_a_download_is_counted_offline_and_said_so():
    """LiteLLM would fetch llama-3's tokenizer from the Hub (25 s of retries offline)."""
    count_prompt_tokens("gpt-4o-mini", MESSAGES)  # LiteLLM imported and its encodings loaded
    start = time.perf_counter()
    count, tokenizer = count_prompt_tokens("hosted_vllm/meta-llama/Llama-3-8B", MESSAGES)
    assert time.perf_counter() - start < 2.0
    assert tokenizer == "tiktoken cl100k_base (approximate)" and count > 20


def test_unknown_models_get_the_default_encoding():
    assert count_prompt_tokens("openai/loopback", MESSAGES)[1] == "tiktoken cl100k_base"
