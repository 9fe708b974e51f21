"""Real HTTP servers on loopback for connector tests, answering from a route table.

A `LoopbackServer` runs a `ThreadingHTTPServer` in a background thread on 127.0.0.1 (or
127.0.0.2, ::1). Tests register routes that answer with a fixed `Reply`, a sequence of replies
(the last one repeats), or a handler called with the recorded `Request`. Every request is kept
in `server.requests` so tests can assert on what the client actually sent, and
`server.body_bytes_sent` counts the body bytes written, to bound how much a client read.

A server records its own exceptions (a handler raising, a body stream failing) in
`server.errors` instead of hiding them behind a 500: leaving a `with LoopbackServer(...)` block
normally, or a fixture's teardown, raises `ServerErrors` when any were recorded.

These servers only ever bind loopback addresses: connector tests must never reach anything else.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import ssl
import sys
import threading
import traceback
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "Handler",
    "LoopbackServer",
    "Reply",
    "Request",
    "ServerErrors",
    "StaticResolver",
    "deflate_bomb",
    "free_port",
    "gzip_bomb",
    "loopback_available",
    "repeat_bytes",
]


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The request body parsed as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What the server answers.

    `body` is sent with a Content-Length. `stream` (a zero-argument callable returning an
    iterator of chunks) is sent with chunked transfer-encoding unless `headers` sets a
    Content-Length itself. Setting a Content-Length that does not match lets a test truncate a
    body. `delay` waits before the status line; `chunk_delay` waits between streamed chunks.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    stream: Callable[[], Iterable[bytes]] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    close: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        """A JSON answer."""
        merged = {"Content-Type": "application/json", **(headers or {})}
        return cls(status=status, body=json.dumps(data).encode(), headers=merged)

    @classmethod
    def text(
        cls,
        text: str | bytes,
        content_type: str = "text/plain; charset=utf-8",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """A text (or XML) answer; bytes are sent as given, str as UTF-8."""
        body = text.encode() if isinstance(text, str) else text
        return cls(
            status=status, body=body, headers={"Content-Type": content_type, **(headers or {})}
        )

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        """A redirect to `location`."""
        return cls(status=status, headers={"Location": location})

    def header_items(self) -> list[tuple[str, str]]:
        """Headers as a list of pairs."""
        if isinstance(self.headers, Mapping):
            return list(self.headers.items())
        return list(self.headers)


Handler = Callable[[Request], Reply]


class ServerErrors(AssertionError):
    """A test server raised while answering: the test is broken, whatever the client saw."""


_SILENT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class _Route:
    """A path template with its answers."""

    def __init__(self, method: str, template: str, answers: Sequence[Reply | Handler]) -> None:
        self.method = method
        names = re.findall(r"{(\w+)}", template)
        pattern = re.escape(template)
        for name in names:
            pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)")
        self.regex = re.compile(f"^{pattern}$")
        self.answers = list(answers)
        self.calls = 0
        self.lock = threading.Lock()

    def next_answer(self) -> Reply | Handler:
        with self.lock:
            answer = self.answers[min(self.calls, len(self.answers) - 1)]
            self.calls += 1
        return answer


class _HTTPServer(ThreadingHTTPServer):
    owner: LoopbackServer
    # socketserver's default backlog of 5 drops SYNs under concurrent tests (1 s retransmits).
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up early (the point of many fault tests) is not a server bug.
        exc = sys.exc_info()[1]
        if isinstance(exc, _SILENT_ERRORS) or self.owner.stopping.is_set():
            return
        self.owner.errors.append("".join(traceback.format_exception(exc)).rstrip())


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each exchange waits ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep pytest output quiet."""

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, opened=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, opened=False)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        owner = self.server.owner
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, split.path, parse_qs(split.query), headers, body)
        route, params = owner._match(self.command, split.path)
        if params:
            request = Request(request.method, request.path, request.query, headers, body, params)
        owner._record(request)
        with owner._in_flight():
            reply = self._answer(route, request)
            self._write(reply)

    def _answer(self, route: _Route | None, request: Request) -> Reply:
        if route is None:
            return Reply.json({"error": f"no route for {request.method} {request.path}"}, 404)
        answer = route.next_answer()
        if isinstance(answer, Reply):
            return answer
        try:
            return answer(request)
        except Exception as exc:  # a broken handler must fail the test, not hang the client
            trace = "".join(traceback.format_exception(exc)).rstrip()
            self.server.owner.errors.append(f"{request.method} {request.path}: {trace}")
            return Reply.json({"error": repr(exc)}, 500)

    def _write(self, reply: Reply) -> None:
        stopping = self.server.owner.stopping
        if reply.delay and stopping.wait(reply.delay):
            return
        self.send_response(reply.status)
        items = reply.header_items()
        names = {name.lower() for name, _ in items}
        for name, value in items:
            self.send_header(name, value)
        chunked = reply.stream is not None and "content-length" not in names
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif "content-length" not in names:
            self.send_header("Content-Length", str(len(reply.body)))
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        chunks: Iterable[bytes] = reply.stream() if reply.stream is not None else [reply.body]
        for chunk in chunks:
            if not chunk:
                continue
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                self.wfile.write(chunk)
            self.server.owner._sent(len(chunk))
            if reply.chunk_delay:
                self.wfile.flush()
                if stopping.wait(reply.chunk_delay):
                    return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class LoopbackServer:
    """A threaded HTTP/1.1 server on a loopback address with a route table."""

    def __init__(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"test servers bind loopback only, not {host}")
        self.host = host
        self.ssl_context = ssl_context
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self.body_bytes_sent = 0
        self.connections = 0
        self.max_in_flight = 0
        self.stopping = threading.Event()
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._in_flight_now = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        """Bind a free port and serve in a daemon thread."""
        server_class = _HTTPServer6 if ":" in self.host else _HTTPServer
        httpd = server_class((self.host, 0), _RequestHandler)
        httpd.owner = self
        if self.ssl_context is not None:
            httpd.socket = self.ssl_context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections so no handler thread lingers."""
        self.stopping.set()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._httpd = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.stop()
        if exc_type is None:
            self.raise_errors()

    def raise_errors(self) -> None:
        """Fail with every exception the server recorded while answering."""
        if self.errors:
            raise ServerErrors(
                f"{self.base_url_or_host} raised {len(self.errors)} time(s):\n\n"
                + "\n\n".join(self.errors)
            )

    @property
    def base_url_or_host(self) -> str:
        """The base URL while serving, else the host (for messages after stop)."""
        return self.base_url if self._httpd is not None else self.host

    # -- addressing ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://host:port` with IPv6 hosts in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of `path` on this server."""
        return self.base_url + path

    # -- routes ----------------------------------------------------------------------------

    def route(self, path: str, *answers: Reply | Handler, method: str = "GET") -> None:
        """Answer `method path` with the answers in turn (the last repeats).

        `path` may hold `{name}` segments; their values arrive in `Request.params`.
        A later registration for the same method and path replaces the earlier one.
        """
        if not answers:
            raise ValueError("route needs at least one Reply or handler")
        new = _Route(method.upper(), path, answers)
        with self._lock:
            self._routes = [
                r
                for r in self._routes
                if (r.method, r.regex.pattern) != (new.method, new.regex.pattern)
            ]
            self._routes.append(new)

    def hits(self, path: str) -> int:
        """How many requests reached `path`."""
        return sum(1 for r in self.requests if r.path == path)

    # -- internals used by the handler -----------------------------------------------------

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        with self._lock:
            routes = list(self._routes)
        for route in routes:
            found = route.regex.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        if method == "HEAD":
            return self._match("GET", path)
        return None, {}

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _sent(self, size: int) -> None:
        with self._lock:
            self.body_bytes_sent += size

    def _track(self, sock: socket.socket, *, opened: bool) -> None:
        with self._lock:
            if opened:
                self.connections += 1
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def _in_flight(self) -> _InFlight:
        return _InFlight(self)


class _InFlight:
    """Counts concurrent requests so tests can check per-host concurrency limits."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server

    def __enter__(self) -> None:
        with self.server._lock:
            self.server._in_flight_now += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server._in_flight_now)

    def __exit__(self, *exc: object) -> None:
        with self.server._lock:
            self.server._in_flight_now -= 1


# -- bodies -------------------------------------------------------------------------------


def repeat_bytes(total: int, chunk: bytes = b"x" * 65536) -> Callable[[], Iterator[bytes]]:
    """A stream of `total` bytes made of `chunk`, generated lazily."""

    def generate() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            piece = chunk[: total - sent]
            sent += len(piece)
            yield piece

    return generate


def _flushed_block(wbits: int, size: int) -> tuple[bytes, bytes]:
    """Header and one full-flushed compressed block of `size` zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = compressor.compress(b"")
    # A full flush resets the compressor's state, so every later block compresses to the same
    # bytes: repeating it yields an arbitrarily long valid stream without compressing it all.
    block = compressor.compress(bytes(size)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head, block


def gzip_bomb(decoded: int, block: int = 1 << 20) -> Callable[[], Iterator[bytes]]:
    """A valid gzip stream of `decoded` zero bytes (rounded to `block`), small on the wire."""
    return _bomb(31, decoded, block)


def deflate_bomb(decoded: int, block: int = 1 << 20) -> Callable[[], Iterator[bytes]]:
    """A valid zlib ("deflate" content-coding) stream of `decoded` zero bytes."""
    return _bomb(15, decoded, block)


def _bomb(wbits: int, decoded: int, block: int) -> Callable[[], Iterator[bytes]]:
    count = max(1, decoded // block)

    def generate() -> Iterator[bytes]:
        head, compressed_block = _flushed_block(wbits, block)
        yield head + compressed_block
        zeros = bytes(block)
        crc = zlib.crc32(zeros)
        adler = zlib.adler32(zeros)
        for _ in range(count - 1):
            yield compressed_block
            crc = zlib.crc32(zeros, crc)
            adler = zlib.adler32(zeros, adler)
        final = b"\x03\x00"  # an empty final fixed-Huffman block
        if wbits == 31:
            size = (count * block) & 0xFFFFFFFF
            yield final + crc.to_bytes(4, "little") + size.to_bytes(4, "little")
        else:
            yield final + adler.to_bytes(4, "big")

    return generate


# -- name resolution ----------------------------------------------------------------------


class StaticResolver:
    """A resolver hook answering only from `table`, so tests never query real DNS."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.answers = {name.lower(): list(addresses) for name, addresses in table.items()}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        """The addresses listed for `host`; unknown names fail like NXDOMAIN."""
        self.calls.append(host)
        try:
            return self.answers[host.lower()]
        except KeyError:
            raise OSError(f"{host} is not in the test resolver") from None


# -- environment --------------------------------------------------------------------------


def loopback_available(host: str) -> bool:
    """Whether a listener can bind `host` here (127.0.0.2 and ::1 are not everywhere)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
    except OSError:
        return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` with nothing listening (bound and released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
