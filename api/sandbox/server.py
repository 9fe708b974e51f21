"""Serving the sandbox on 127.0.0.1 from a thread of its own, next to the API."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable

import uvicorn

from api.sandbox.app import AnswerHook, SandboxPlatform
from api.sandbox.state import SandboxState

HOST = "127.0.0.1"


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1: at `port` if it is free, else at any free port."""
    for wanted in (port, 0) if port else (0,):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, wanted))
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        sock.setblocking(False)
        return sock
    raise OSError(f"no free port on {HOST}")


class _Server(uvicorn.Server):
    """uvicorn's server, telling a waiting thread when it accepts connections."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then say so."""
        await super().startup(sockets)
        self._ready.set()


class SandboxServer:
    """The sandbox platform served by uvicorn on its own thread and event loop.

    `start()` returns once it accepts connections; `stop()` ends it (pending community answers
    are dropped) and then runs `on_close` on its loop, where `on_answer` ran.
    """

    def __init__(
        self,
        state: SandboxState,
        *,
        port: int = 0,
        answer_delay: float = 3.0,
        on_answer: AnswerHook | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.state = state
        self.platform = SandboxPlatform(state, answer_delay=answer_delay, on_answer=on_answer)
        self._wanted_port = port
        self._on_close = on_close
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        """The port it listens on (once started)."""
        if self._port is None:
            raise RuntimeError("the sandbox is not started")
        return self._port

    @property
    def url(self) -> str:
        """Its base URL, what a Mastodon source's `instance_url` is set to."""
        return f"http://{HOST}:{self.port}"

    @property
    def allow_entry(self) -> str:
        """The one `http_allow_hosts` entry that lets the guarded client reach it."""
        return f"{HOST}:{self.port}"

    def start(self, timeout: float = 15.0) -> SandboxServer:
        """Bind (the wanted port if free), serve, and wait until it accepts connections."""
        self._socket = bind(self._wanted_port)
        self._port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            self.platform,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config, self._ready)
        self._thread = threading.Thread(target=self._run, name="luister-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("the sandbox platform did not start in time")
        if self._failure is not None or not self._server.started:
            self.stop()
            raise RuntimeError(f"the sandbox platform failed to start: {self._failure}")
        return self

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        assert self._server is not None and self._socket is not None
        self.loop = asyncio.get_running_loop()
        try:
            await self._server.serve(sockets=[self._socket])
        except BaseException as exc:  # reported to the thread that started it
            self._failure = exc
            raise
        finally:
            self._ready.set()
            if self._on_close is not None:
                with contextlib.suppress(Exception):
                    await self._on_close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()

    def run_coroutine(self, work: Awaitable[object], timeout: float = 30.0) -> object:
        """Run `work` on the sandbox's loop from another thread and return its result."""
        if self.loop is None:
            raise RuntimeError("the sandbox is not started")

        async def _wrapped() -> object:
            return await work

        return asyncio.run_coroutine_threadsafe(_wrapped(), self.loop).result(timeout)
