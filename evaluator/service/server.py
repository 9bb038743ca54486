"""Running the service: uvicorn on a socket bound here, stopped gracefully.

The socket is bound before uvicorn starts, so that a port already taken is
said plainly (exit status 2) and `--port 0` picks a free port, printed on the
first line of standard error:

    irmer serve: listening on http://127.0.0.1:8000/ (decision log: irmer-decisions.jsonl)

On SIGTERM or Ctrl-C uvicorn stops accepting connections and lets the
requests in flight finish (for at most the time limit and five seconds);
then the decision log writes what is queued and is closed.
"""

from __future__ import annotations

import socket
import sys

from .app import Settings, create_app


class ListenError(Exception):
    """The address cannot be listened on."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that
    # say they are TCP, and with it on, every response after the first on a connection waited ~40 ms for
    # the client's delayed ACK. TCP_NODELAY here too: accepted sockets inherit it.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000, access_log: bool = True) -> None:
    """Serve until SIGTERM or SIGINT; raises ListenError or LogError when it cannot start."""
    import uvicorn
    sock = bind(host, port)
    try:
        app = create_app(settings)
    except BaseException:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    where = "none (--no-log)" if settings.log is None else str(settings.log)
    print(f"irmer serve: listening on http://{shown}:{bound}/ (decision log: {where})", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="info", access_log=access_log, server_header=False,
                            timeout_graceful_shutdown=int(settings.timeout) + 5, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
