"""Run a sandbox API server (an ASGI app) on 127.0.0.1, on a free port, in a thread.

Each vendor's sandbox server (BigCommerce, QuickBooks, ...) is a starlette app that holds its
state in SQLite and answers as the vendor documents; this runs one for the tests, the bench and
the demo, and stops it. Loopback only: nothing here ever listens on another address.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import uvicorn

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class RunningServer:
    """An ASGI app served on loopback until `stop()`; `url` is its origin (`http://127.0.0.1:N`)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host=HOST, port=self.port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 10.0) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:  # uvicorn sets it once the socket listens
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`with serving(app) as url:` the app on loopback for the duration of the block."""
    with RunningServer(app) as server:
        yield server.url
