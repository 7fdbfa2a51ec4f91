"""``iapo serve``: a run's policy as an OpenAI-compatible endpoint."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._render import err_console


def serve_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by iapo optimize.")],
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine "
                                           "only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port; the "
                                           "line 'serving ... on URL' says which).")] = 8000,
    max_concurrency: Annotated[int, typer.Option(
        help="Requests answered at once; the others wait their turn.")] = 64,
) -> None:
    """Serve the run's policy: POST /v1/chat/completions with model 'iapo/<context>' (or
    'iapo/weights:correct=1,cost=0.2' for a context that was not trained) answers with the
    context's arm (N completions through the run's cache, aggregated by its strategy);
    GET /v1/models lists the contexts; GET /health. SIGTERM or Ctrl-C stops accepting and
    finishes the requests in flight.

    Exit codes: 130 stopped (by SIGTERM or Ctrl-C, after the requests in flight), 2 bad
    input (nothing served).
    """
    import uvicorn

    from ..run import ServeStopped, create_app

    if not 0 <= port <= 65535:
        raise ConfigError(f"must be in 0..65535, got {port}", field="--port")
    app = create_app(run_dir, max_concurrency)  # a bad run directory fails here
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                          field="--port") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    service = app.state.service
    err_console.print(f"serving {run_dir} ({', '.join(service.models())}) on "
                      f"http://{shown}:{bound}/v1", markup=False, highlight=False,
                      soft_wrap=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=None)
    try:
        # uvicorn finishes the requests in flight on SIGTERM/SIGINT, then raises the
        # signal again: the handler of ``main`` turns it into KeyboardInterrupt
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        raise ServeStopped(service.dispatcher.answered) from None
    raise ServeStopped(service.dispatcher.answered)
