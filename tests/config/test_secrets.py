"""Secrets in config values: found by name and by value, at any depth, never quoted."""

import pytest

from iapo_cli.config._secrets import find_secret, secret_name, secret_value


@pytest.mark.parametrize("name", ["api_key", "API_KEY", "apiKey", "X-Api-Key", "X-Key",
                                  "access_token", "accessToken", "token", "client_secret",
                                  "password", "Authorization", "aws_secret_access_key",
                                  "credentials", "private_key"])
def test_secret_names(name):
    assert secret_name(name)


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens", "max_new_tokens",
                                  "top_k", "keywords", "temperature", "api_version", "stop",
                                  "extra_headers", "monkey", "tokenizer", "num_tokens",
                                  "auth_mode", "signature_version"])
def test_benign_names(name):
    # issue 10, item 15: `max_tokens: 64` was refused as "looks like a secret"
    assert not secret_name(name)


@pytest.mark.parametrize("value", [
    "sk-proj-AbCdEf0123456789XyZ", "sk-ant-api03-abcdefgh1234", "hf_abcdefghijklmnop",
    "Bearer abc.def.ghi-12345", "ghp_abcdefghijklmnopqrstuvwxyz0123",
    "AKIAABCDEFGHIJKLMNOP", "https://user:hunter22@example.com/v1",
    "Zq8Lx2Rv7Nw4Pt9Ks1Mb6Hc3Jd5Fg0Ya", "key=Zq8Lx2Rv7Nw4Pt9Ks1Mb6Hc3Jd5Fg0Ya;",
])
def test_key_shaped_values(value):
    assert secret_value(value)


@pytest.mark.parametrize("value", [
    "meta-llama/Llama-3.3-70B-Instruct", "2024-02-01", "http://localhost:8000/v1",
    "123e4567-e89b-12d3-a456-426614174000", "0123456789abcdef0123456789abcdef01",
    "/home/user/Projects/SomeDirectory2024/credentials.json", "You are a helpful assistant.",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "us-east-1", "task",
])
def test_ordinary_values(value):
    assert not secret_value(value)


def test_find_secret_walks_mappings_and_lists_and_never_returns_the_secret():
    settings = {"params": {"max_tokens": 64, "extra_headers": {"X-Trace": "abc"},
                           "extra_body": {"list": [1, {"note": "sk-proj-AbCdEf0123456789"}]}}}
    assert find_secret(settings, "") == ("params.extra_body.list[1].note", "value")
    assert find_secret({"params": {"extra_headers": {"X-Key": "x"}}}, "") == (
        "params.extra_headers.X-Key", "name")
    assert find_secret({"params": {"api_key": None, "max_tokens": 64}}, "") is None
