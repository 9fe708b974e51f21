"""CPU-heavy payload work off the event loop: worker processes with a CPU budget per document.

Parsing a hostile document (2 MB of unclosed, nested tags) costs seconds of pure CPU. On the
event loop that stalls every request and job of the process, and no timeout can interrupt
synchronous code. A thread does not help: the parsers are Python code holding the GIL, and a
thread cannot be stopped. So connectors hand such work to `parse_in_pool`, which runs it in a
separate worker process:

- at most `workers` documents at once, each in a worker of its own. Workers start on first
  use as `python -c ...` of this module (not `multiprocessing`, whose spawn re-imports the
  caller's main script) and talk length-prefixed pickles over their stdin and stdout;
- each document gets a budget of CPU seconds. A timer on the worker's CPU clock
  (`ITIMER_PROF`) interrupts Python code at the budget; should C code never hand control
  back, `RLIMIT_CPU` has the kernel end the worker one second later;
- a document over budget raises `TooExpensive` (a `FetchError`: a poll fails cleanly and backs
  off) and its worker is replaced, so no half-run parser state is ever reused.

This module knows nothing of the database or of Luister's settings: the kernel states the
limits with `parse_limits(...)` around a fetch; without it the defaults below apply.
`shutdown_parse_pool()` stops the workers (it also runs at exit; a worker whose parent died
reads end-of-file and exits).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, TypeVar

from connectors.http import InvalidPayload

try:  # POSIX only; elsewhere the CPU timer alone keeps the budget.
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

T = TypeVar("T")

DEFAULT_BUDGET_SECONDS = 10.0
DEFAULT_WORKERS = 1
_HEADER = 8  # bytes of the big-endian length before each pickle


@dataclass(frozen=True)
class ParseLimits:
    """CPU seconds one document may cost, and how many documents are parsed at once."""

    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    workers: int = DEFAULT_WORKERS


_DEFAULT_LIMITS = ParseLimits()
_LIMITS: ContextVar[ParseLimits | None] = ContextVar("luister_parse_limits", default=None)


@contextlib.contextmanager
def parse_limits(*, budget_seconds: float, workers: int) -> Iterator[ParseLimits]:
    """Parse the documents of the enclosed work (say, one poll) within these limits."""
    limits = ParseLimits(budget_seconds=budget_seconds, workers=max(1, workers))
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def current_limits() -> ParseLimits:
    """The limits in force for the running task."""
    return _LIMITS.get() or _DEFAULT_LIMITS


class TooExpensive(InvalidPayload):
    """A document cost more CPU than its budget (or killed its worker); it was not parsed."""

    @classmethod
    def over_budget(cls, what: str, budget_seconds: float, *, died: bool = False) -> TooExpensive:
        """The error for `what` (a redacted URL) over `budget_seconds`, or whose worker died."""
        if died:
            reason = (
                f"the parser process died while parsing it (its CPU budget is "
                f"{budget_seconds:g} s, or it ran out of memory)"
            )
        else:
            reason = f"too expensive to parse: over its CPU budget of {budget_seconds:g} s"
        return cls(f"{what}: {reason}; skipped")


@dataclass(frozen=True)
class _Outcome:
    """What a worker sends back for one document."""

    value: Any = None
    error: BaseException | None = None
    over_budget: bool = False
    died: bool = False
    cpu_seconds: float = 0.0


# -- in the worker process ------------------------------------------------------------------


class _OverBudget(BaseException):
    """Raised by the CPU timer. A BaseException, so no parser's `except Exception` swallows it."""


_armed = False


def _on_cpu_timer(_signum: int, _frame: FrameType | None) -> None:
    if _armed:
        raise _OverBudget


def _set_cpu_limit(seconds: float | None) -> None:
    """Let the kernel end this process once it has used `seconds` of CPU (None: no limit)."""
    if resource is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = resource.RLIM_INFINITY if seconds is None else math.ceil(seconds)
    if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft > hard):
        soft = hard
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives the trip to the parent, else a readable stand-in."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # unpicklable exceptions (parser internals) become a plain message
        return InvalidPayload(f"{type(exc).__name__}: {str(exc)[:300]}")
    return exc


def _run_with_budget(fn: Callable[..., Any], args: tuple[Any, ...], budget: float) -> _Outcome:
    """Call `fn(*args)` with a CPU budget; report the result, the error or the overrun."""
    global _armed
    started = time.process_time()
    try:
        try:
            _set_cpu_limit(started + budget + 1.0)
            _armed = True
            signal.setitimer(signal.ITIMER_PROF, budget)
            value = fn(*args)
        finally:
            _armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)
            _set_cpu_limit(None)
    except _OverBudget:
        return _Outcome(over_budget=True, cpu_seconds=time.process_time() - started)
    except Exception as exc:
        return _Outcome(error=_portable(exc), cpu_seconds=time.process_time() - started)
    return _Outcome(value=value, cpu_seconds=time.process_time() - started)


def _read_message(stream: IO[bytes]) -> bytes | None:
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None
    size = int.from_bytes(header, "big")
    body = stream.read(size)
    return body if len(body) == size else None


def _write_message(stream: IO[bytes], data: bytes) -> None:
    stream.write(len(data).to_bytes(_HEADER, "big") + data)
    stream.flush()


def _worker_main() -> None:
    """A worker's loop: read (function, arguments, budget), run it, answer; exit at end of input."""
    # Answers go to a private copy of stdout; anything a library prints lands on stderr.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    signal.signal(signal.SIGPROF, _on_cpu_timer)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers
    if resource is not None:  # a worker the kernel ends leaves no core file behind
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    while (request := _read_message(requests)) is not None:
        fn, args, budget = pickle.loads(request)
        outcome = _run_with_budget(fn, args, budget)
        try:
            answer = pickle.dumps(outcome)
        except Exception as exc:  # a result that cannot travel is an error, not a dead worker
            answer = pickle.dumps(_Outcome(error=InvalidPayload(f"unpicklable result: {exc}")))
        _write_message(answers, answer)


# -- in the calling process -----------------------------------------------------------------

_BOOT = "from connectors._parse_pool import _worker_main; _worker_main()"


class _WorkerDied(Exception):
    """The worker's pipe closed mid-document: the kernel ended it (CPU limit) or it crashed."""


class _PoolClosed(Exception):
    """The pool was shut down (or replaced) while a document waited for a worker."""


class _Worker:
    """One worker process, parsing one document at a time."""

    def __init__(self) -> None:
        # A worker parses what strangers send: it gets none of the service's own settings
        # (secrets among them). The package this module lives in must import there.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            # -P: the working directory is not put on the path (nothing there is imported).
            [sys.executable, "-P", "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            # Its own session: a terminal's Ctrl-C reaches the parent, which stops the workers.
            start_new_session=True,
        )

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], budget: float) -> _Outcome:
        """Run one document in this worker (blocking)."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            _write_message(stdin, pickle.dumps((fn, args, budget)))
            answer = _read_message(stdout)
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise _WorkerDied(str(exc)) from exc
        if answer is None:
            raise _WorkerDied("end of output")
        outcome = pickle.loads(answer)
        assert isinstance(outcome, _Outcome)
        return outcome

    def stop(self, *, kill: bool = False) -> None:
        """End the worker: close its input (it exits), or kill it outright."""
        if kill:
            with contextlib.suppress(OSError):
                self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _Pool:
    """Up to `size` workers; a document takes an idle one, or starts one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        # Callers wait for a free worker in these threads, never in the event loop's own
        # executor (name resolution runs there).
        self.threads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="luister-parse")

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], budget: float) -> _Outcome:
        """Run one document on a worker (blocking: runs in `self.threads`)."""
        with self._slots:
            with self._lock:
                if self._closed:
                    raise _PoolClosed
                worker = self._take_idle() or _Worker()
                self._busy.add(worker)
            outcome = _Outcome(died=True)
            try:
                outcome = worker.call(fn, args, budget)
            except _WorkerDied:
                pass
            finally:
                # A worker interrupted mid-parse is not reused: its parser state is suspect.
                reuse = not (outcome.over_budget or outcome.died)
                with self._lock:
                    self._busy.discard(worker)
                    if reuse and not self._closed:
                        self._idle.append(worker)
                        reuse = True
                    else:
                        reuse = False
                if not reuse:
                    worker.stop(kill=True)
            return outcome

    def _take_idle(self) -> _Worker | None:
        """An idle worker still alive (one may have been killed while it waited)."""
        while self._idle:
            worker = self._idle.pop()
            if worker.process.poll() is None:
                return worker
            worker.stop(kill=True)
        return None

    def close(self) -> None:
        """Stop every worker; a document being parsed fails as its worker dies."""
        with self._lock:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle.clear()
        for worker in workers:
            worker.stop(kill=True)
        self.threads.shutdown(wait=False)


_pool_lock = threading.Lock()
_pool: _Pool | None = None


def _current_pool(size: int) -> _Pool:
    global _pool
    retired = None
    with _pool_lock:
        if _pool is not None and _pool.size != size:
            retired, _pool = _pool, None
        if _pool is None:
            _pool = _Pool(size)
        pool = _pool
    if retired is not None:
        retired.close()
    return pool


def shutdown_parse_pool() -> None:
    """Stop the worker processes (at shutdown; a later document starts new ones)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


atexit.register(shutdown_parse_pool)


async def parse_in_pool(
    fn: Callable[..., T], *args: Any, what: str, budget_seconds: float | None = None
) -> T:
    """`fn(*args)` in a worker process within the CPU budget: its result, or its exception.

    `fn` must be a module-level function, its arguments and result picklable. `what` names the
    document in errors (a redacted URL). Over budget, or if the worker dies: `TooExpensive`.
    """
    limits = current_limits()
    budget = limits.budget_seconds if budget_seconds is None else budget_seconds
    loop = asyncio.get_running_loop()
    while True:
        pool = _current_pool(limits.workers)
        try:
            outcome = await loop.run_in_executor(pool.threads, pool.call, fn, args, budget)
            break
        except (_PoolClosed, RuntimeError):
            # Replaced while this document waited (or its thread pool is shut down): the
            # current pool takes it; after `shutdown_parse_pool` that starts a fresh one.
            if pool is _pool:
                raise
    if outcome.over_budget or outcome.died:
        raise TooExpensive.over_budget(what, budget, died=outcome.died)
    if outcome.error is not None:
        raise outcome.error
    value: T = outcome.value
    return value
