"""A fuzzer over the OpenAPI document: no request gets a 5xx, every answer is declared.

Schemathesis generates requests for every operation from the schema the app publishes (valid
ones, then invalid ones), sends them to the ASGI app in-process, as an admin and then as an
analyst, on SQLite and on PostgreSQL, and checks each answer: not a server error, a status the
operation declares, a content type declared for that status. Every finding is collected (the
run does not stop at the first), reported with the request and the logged cause, then the test
fails. The run is bounded (`LUISTER_FUZZ_EXAMPLES` per operation and mode) and derandomized, so
CI sends the same requests every time; set `LUISTER_FUZZ_SEED` to explore other ones.

Nothing leaves the machine: the app's HTTP client refuses every request (a reply to a source the
fuzzer created fails as "nothing was sent"), no background jobs run, no email is configured.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.app import create_app
from listener import migrate
from listener.accounts.service import create_token, create_user
from listener.db import make_engine
from listener.models import Role
from listener.settings import Settings
from listener.sources import service as sources
from listener.sources.ingest import ingest_mentions
from tests.conftest import TEST_SECRET, fresh_database
from tests.factories import mention

pytestmark = pytest.mark.slow

#: Generated requests per operation, for valid input; invalid input gets half as many. About
#: 4,000 requests per backend, well under two minutes each.
EXAMPLES = int(os.environ.get("LUISTER_FUZZ_EXAMPLES", "24"))
#: The analyst's pass checks that refusals (403) are declared: a few requests each suffice.
ANALYST_EXAMPLES = 2
SEED = os.environ.get("LUISTER_FUZZ_SEED")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]

#: Operations left out until their owner fixes them, with the request that breaks them.
EXCLUDED: dict[str, str] = {
    # Not a defect: the stream never ends, and the in-process client waits for the whole body.
    # tests/listener/test_stream.py drives it over a real server instead.
    "GET /api/v1/events/stream": "endless by design (Server-Sent Events)",
}
#: Checks left out for one operation until its owner fixes it.
SKIPPED_CHECKS: dict[str, frozenset[str]] = {}


class CountingApp:
    """Counts the HTTP requests that reach the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


@dataclass
class Finding:
    """One answer that broke a check, with the request that got it."""

    operation: str
    who: str
    status: int
    failure: str
    request: str
    cause: str = ""


@dataclass
class Run:
    """What one backend's fuzzing did."""

    requests: int = 0
    findings: list[Finding] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


async def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("the fuzzer's app reaches no platform", request=request)


async def _seed(url: str, settings: Settings) -> dict[str, str]:
    """Staff with tokens and a little data to find; the tokens of each role by name."""
    engine = make_engine(url)
    key = settings.secret_bytes()
    try:
        from api.wiring import session_factory

        sessions = session_factory(settings, engine)
        async with sessions() as session, session.begin():
            # Someone else owns the lowest token ids, which generated ids hit most often:
            # an admin revoking "token 1" must not cut the fuzzer's own access.
            decoy = await create_user(session, username="decoy", password="x" * 12, role=Role.ADMIN)
            for n in range(20):
                await create_token(session, user=decoy, name=f"decoy-{n}", key=key)
            tokens = {}
            for role in (Role.ADMIN, Role.ANALYST):
                user = await create_user(
                    session, username=f"fuzz-{role.value}", password="x" * 12, role=role
                )
                tokens[role.value] = (
                    await create_token(session, user=user, name="fuzz", key=key)
                ).token
            source = await sources.create_source(
                session,
                kind="mastodon",
                name="fuzzed",
                config={"instance_url": "http://127.0.0.1:9", "hashtag": "fiets"},
                key=key,
            )
            sources.pause(source, "fuzzed: never polled")
        async with sessions() as session, session.begin():
            await ingest_mentions(session, [mention(n) for n in range(5)], source_id=source.id)
    finally:
        await engine.dispose()
    return tokens


def _describe(case: schemathesis.Case) -> str:
    parts = [f"{case.method} {case.formatted_path}"]
    if case.query:
        parts.append(f"query={case.query!r}")
    shown = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if shown:
        parts.append(f"headers={shown!r}")
    if case.body is not None and not isinstance(case.body, schemathesis.core.NotSet):
        parts.append(f"body={case.body!r}"[:600])
    return " ".join(parts)


def _fuzz_operation(
    operation: schemathesis.APIOperation,
    *,
    who: str,
    token: str,
    mode: GenerationMode,
    examples: int,
    run: Run,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    skipped = SKIPPED_CHECKS.get(operation.label, frozenset())
    checks = [check for check in CHECKS if check.__name__ not in skipped]

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def send(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        run.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks)
        except (Failure, FailureGroup) as failed:  # each failure is a finding; keep going
            failures = failed.exceptions if isinstance(failed, FailureGroup) else (failed,)
            correlation = response.headers.get("x-correlation-id", [""])[0]
            run.findings.extend(
                Finding(
                    operation.label,
                    who,
                    response.status_code,
                    f"{failure.title}: {' '.join(str(failure.message).split())}"[:300],
                    _describe(case),
                    correlation if response.status_code >= 500 else "",
                )
                for failure in failures
            )

    if SEED is not None:
        hypothesis.seed(int(SEED))(send)
    try:
        send()
    except hypothesis.errors.Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # an operation without input has no invalid one


def _causes(records: list[logging.LogRecord]) -> dict[str, str]:
    """The exception logged for each correlation id of a 500."""
    found: dict[str, str] = {}
    for record in records:
        correlation = getattr(record, "correlation_id", None)
        if correlation and record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            found[correlation] = f"{type(exc).__name__}: {exc}"[:300]
    return found


def _report(kind: str, run: Run, operations: int, seconds: float) -> str:
    server_errors = [f for f in run.findings if f.status >= 500]
    lines = [
        f"fuzzed {kind}: {run.requests} requests over {operations} operations in {seconds:.0f} s; "
        f"{len(server_errors)} server errors, {len(run.findings)} findings; "
        f"statuses {dict(sorted(run.statuses.items()))}; excluded {sorted(EXCLUDED) or 'none'}; "
        f"checks skipped {sorted(SKIPPED_CHECKS) or 'none'}"
    ]
    seen: set[tuple[str, int, str]] = set()
    for finding in run.findings:
        # One line per operation, status and kind of failure: the first request that showed it.
        key = (finding.operation, finding.status, finding.failure[:60])
        if key in seen:
            continue
        seen.add(key)
        lines.append(
            f"- {finding.operation} as {finding.who} -> {finding.status}: {finding.failure}\n"
            f"    {finding.request}" + (f"\n    cause: {finding.cause}" if finding.cause else "")
        )
    return "\n".join(lines)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_no_generated_request_gets_a_server_error_or_an_undeclared_answer(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_database(kind, tmp_path, "fuzz")
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        redis_url=None,
        run_jobs=False,
        http_allow_hosts=["127.0.0.1"],
        rate_limit_requests=1_000_000,  # thousands of requests per token: never a 429
    )
    tokens = asyncio.run(_seed(url, settings))
    app = create_app(settings)
    app.state.http_client = httpx.AsyncClient(transport=httpx.MockTransport(_refuse))
    counting = CountingApp(app)
    caplog.set_level(logging.ERROR, logger="listener.rest.problems")

    started = time.monotonic()
    run = Run()
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", counting)
        operations = [result.ok() for result in schema.get_all_operations()]
        fuzzed = [op for op in operations if op.label not in EXCLUDED]
        for operation in fuzzed:
            for mode, examples in (
                (GenerationMode.POSITIVE, EXAMPLES),
                (GenerationMode.NEGATIVE, max(1, EXAMPLES // 2)),
            ):
                _fuzz_operation(
                    operation,
                    who="admin",
                    token=tokens["admin"],
                    mode=mode,
                    examples=examples,
                    run=run,
                )
            _fuzz_operation(
                operation,
                who="analyst",
                token=tokens["analyst"],
                mode=GenerationMode.POSITIVE,
                examples=ANALYST_EXAMPLES,
                run=run,
            )
    finally:
        shutdown_lifespans()
    run.requests = counting.requests - 1  # the schema itself was fetched once
    causes = _causes(caplog.records)
    for finding in run.findings:
        finding.cause = causes.get(finding.cause, finding.cause)

    report = _report(kind, run, len(fuzzed), time.monotonic() - started)
    with capsys.disabled():  # the request count belongs in every run's output, CI's included
        print("\n" + report.splitlines()[0])
    assert run.requests > len(fuzzed) * EXAMPLES, "the fuzzer sent fewer requests than planned"
    assert not run.findings, report
