"""``iapo serve`` as a process: SIGTERM finishes the requests in flight; bad input is one
line and nothing is served."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from iapo_cli.run import optimize
from tests.conftest import SMALL_SYNTHETIC, run_cli, write_config
from tests.loopback import LoopbackServer
from tests.run.money_project import MODELS, money_config

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_finishes_the_requests_in_flight(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    with LoopbackServer(seed=11, models=MODELS, seed_by_content=True) as upstream:
        run = optimize(money_config(tmp_path / "c.yaml", upstream.url, budget=120),
                       out=tmp_path / "run").run_dir
        proc = subprocess.Popen([sys.executable, "-m", "iapo_cli", "serve", str(run),
                                 "--port", "0"], stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            line = proc.stderr.readline()
            found = re.search(r"on (http://127\.0\.0\.1:\d+)/v1", line)
            assert found, line + proc.stderr.read()
            url = found.group(1)
            deadline = time.monotonic() + 60
            while True:  # the line is printed just before uvicorn starts
                try:
                    if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline
                time.sleep(0.05)
            upstream.latency = 0.3
            before = upstream.requests

            def ask(i: int) -> httpx.Response:
                return httpx.post(f"{url}/v1/chat/completions", timeout=60, json={
                    "model": "iapo/accuracy-first",
                    "messages": [{"role": "user", "content": f"What is {i} + 77?"}]})

            with concurrent.futures.ThreadPoolExecutor(5) as pool:
                futures = [pool.submit(ask, i) for i in range(5)]
                while upstream.requests == before:  # the requests are in flight upstream
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
                proc.send_signal(signal.SIGTERM)
                replies = [f.result() for f in futures]
            assert [r.status_code for r in replies] == [200] * 5
            assert all(r.json()["choices"][0]["message"]["content"] for r in replies)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert "error: stopped after answering 5 requests (the requests in flight were " \
               "finished)" in err
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/health", timeout=2)


@pytest.mark.parametrize(("args", "message"), [
    (["{missing}"], "RUN_DIR: {missing} is not a run directory (no config.yaml)"),
    (["{offline}"], "RUN_DIR: the run's backend is offline"),
    (["{offline}", "--port", "70000"], "--port: must be in 0..65535, got 70000"),
    (["{offline}", "--max-concurrency", "0"], "--max-concurrency: must be at least 1"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    offline = tmp_path / "offline"
    optimize(write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC), out=offline)
    paths = {"missing": tmp_path / "nothing", "offline": offline}
    code, out, err = run_cli("serve", *[a.format(**paths) for a in args])
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message.format(**paths)}")


def test_a_port_in_use_is_bad_input(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    with LoopbackServer(seed=11, models=MODELS, seed_by_content=True) as upstream:
        run = optimize(money_config(tmp_path / "c.yaml", upstream.url, budget=60),
                       out=tmp_path / "run").run_dir
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            code, _, err = run_cli("serve", run, "--port", port)
        finally:
            taken.close()
    assert code == 2
    assert err.strip().startswith(f"error: --port: cannot listen on 127.0.0.1:{port} (")
