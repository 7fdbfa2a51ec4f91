"""Live throughput and start-up on the loopback OpenAI-compatible server (issue 14).

1. Throughput: 4000 distinct one-completion requests through ``LLMClient`` (cache, claims,
   retries, accounting: what a run does) against the loopback server answering after a
   fixed latency (100 ms), at a given concurrency, for each transport (``litellm`` and
   ``http``), and for reference a bare ``httpx`` client with a semaphore (no cache, no
   accounting). Ideal = ceil(requests / concurrency) x latency; the table gives the
   fraction of it reached, and the client's CPU seconds per request.
2. Start-up: ``iapo optimize`` on a live config, as a fresh process: seconds from the
   process start to the server's first request, and the same less the imports the run
   needs (``import iapo_cli.cli`` for the http transport, plus ``litellm`` for LiteLLM),
   measured alone in fresh processes (medians of 3).

Usage: python benchmarks/live_throughput.py [--requests 4000] [--concurrency 16]
       [--latency 0.1] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iapo_cli.llm import ChatRequest, CompletionCache, LiveSettings, LLMClient  # noqa: E402
from tests.conftest import live_config, write_sums  # noqa: E402
from tests.loopback import LoopbackServer  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-bench-not-a-real-key"}


def client_run(transport: str, requests: int, concurrency: int, latency: float) -> dict:
    os.environ["OPENAI_API_KEY"] = ENV["OPENAI_API_KEY"]
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer(latency=latency) as server:
        settings = LiveSettings(model="openai/loopback", api_base=server.url,
                                concurrency=concurrency, supports_n=True, timeout=30,
                                transport=transport)
        client = LLMClient(settings, CompletionCache(Path(tmp) / "cache"))
        client.prices()  # looked up beforehand (LiteLLM imported): start-up is apart
        batch = [ChatRequest([{"role": "user", "content": f"What is {i} + 1?"}], {}, [0])
                 for i in range(requests)]
        cpu, start = time.process_time(), time.perf_counter()
        client.complete(batch)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert server.served_requests == requests, server.served_requests
    return {"wall": wall, "cpu": cpu}


def httpx_run(requests: int, concurrency: int, latency: float) -> dict:
    import httpx

    async def main(url: str) -> None:
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency,
                              max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            async def one(i: int) -> None:
                async with gate:
                    body = {"model": "loopback", "messages": [
                        {"role": "user", "content": f"What is {i} + 1?"}]}
                    response = await client.post(url + "/chat/completions", json=body)
                    response.json()
            await asyncio.gather(*(one(i) for i in range(requests)))

    with LoopbackServer(latency=latency) as server:
        cpu, start = time.process_time(), time.perf_counter()
        asyncio.run(main(server.url))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu}


def seconds_of(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    return time.perf_counter() - start


def first_request(transport: str) -> float:
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer() as server:
        data = write_sums(Path(tmp) / "sums.jsonl", count=40)
        config = live_config(Path(tmp) / "live.yaml", server.url, data, budget=100)
        if transport != "litellm":
            text = config.read_text().replace("  kind: live\n",
                                              f"  kind: live\n  transport: {transport}\n")
            config.write_text(text)
        start = time.time()
        subprocess.run([sys.executable, "-m", "iapo_cli", "optimize", str(config), "--out",
                        str(Path(tmp) / "run")], check=True, env=ENV, capture_output=True)
        return server.first_request_at - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/live_throughput.md"))
    args = parser.parse_args()
    ideal = math.ceil(args.requests / args.concurrency) * args.latency
    lines = [f"# Live throughput ({args.requests} requests of one completion, concurrency "
             f"{args.concurrency}, server latency {args.latency * 1000:.0f} ms)", "",
             f"Command: `python benchmarks/live_throughput.py --requests {args.requests} "
             f"--concurrency {args.concurrency} --latency {args.latency}`", "",
             f"Ideal: {ideal:.1f} s.", "",
             "| client | wall s | fraction of ideal | client CPU ms per request |",
             "|---|---|---|---|"]
    runs = [("iapo, transport http", lambda: client_run("http", args.requests,
                                                        args.concurrency, args.latency)),
            ("iapo, transport litellm", lambda: client_run("litellm", args.requests,
                                                           args.concurrency, args.latency)),
            ("bare httpx (reference)", lambda: httpx_run(args.requests, args.concurrency,
                                                         args.latency))]
    for name, run in runs:
        result = run()
        lines.append(f"| {name} | {result['wall']:.1f} | {ideal / result['wall']:.3f} | "
                     f"{1000 * result['cpu'] / args.requests:.2f} |")
        print(lines[-1], flush=True)
    imports = {"http": statistics.median(seconds_of("import iapo_cli.cli")
                                         for _ in range(3)),
               "litellm": statistics.median(seconds_of(
                   "import iapo_cli.cli; from iapo_cli.llm import load_litellm; "
                   "load_litellm()") for _ in range(3))}
    lines += ["", "Start-up: `iapo optimize` (fresh process) to the server's first request, "
              "medians of 3.", "",
              "| transport | to first request s | imports s | after the imports s |",
              "|---|---|---|---|"]
    for transport in ("http", "litellm"):
        first = statistics.median(first_request(transport) for _ in range(3))
        lines.append(f"| {transport} | {first:.2f} | {imports[transport]:.2f} | "
                     f"{first - imports[transport]:.2f} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
