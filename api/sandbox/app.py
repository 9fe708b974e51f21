"""The sandbox platform: the part of Mastodon's REST API that Luister's connector uses.

Reading: `GET /api/v1/timelines/tag/:hashtag` and `/timelines/public` (paged by `min_id`,
`since_id`, `max_id`, with `Link` headers), `GET /api/v2/search` (full text, or `resolve` of a
status URL, URI or id), `GET /api/v1/statuses/:id` and `/context`, `GET /api/v2/instance`,
`GET /api/v1/accounts/verify_credentials`. Writing (with the access token): `POST
/api/v1/statuses` (`in_reply_to_id`, `Idempotency-Key`), `favourite`/`unfavourite`,
`reblog`/`unreblog`. `GET /` lists what was posted, for a person watching the demo.

A question of ours (a status of our account with a question mark) is answered by the
community a few seconds later (`api.sandbox.community`); `on_answer` is then told the URI of
our status, so the demo can read the thread at once.
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from api.sandbox import community
from api.sandbox.state import Account, SandboxState, Status, id_key

log = logging.getLogger(__name__)

MAX_CHARACTERS = 500
DEFAULT_LIMIT = 20
MAX_LIMIT = 40

AnswerHook = Callable[[str], Awaitable[None]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _limit(request: Request) -> int:
    try:
        value = int(request.query_params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        value = DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, value))


def _rate_headers() -> dict[str, str]:
    reset = datetime.now(UTC) + timedelta(minutes=5)
    return {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "299",
        "X-RateLimit-Reset": reset.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


class SandboxPlatform:
    """The ASGI app over one `SandboxState`; `answer_delay` seconds before the community
    answers a question."""

    def __init__(
        self,
        state: SandboxState,
        *,
        answer_delay: float = 3.0,
        on_answer: AnswerHook | None = None,
    ) -> None:
        self.state = state
        self.answer_delay = answer_delay
        self.on_answer = on_answer
        self._tasks: set[asyncio.Task[None]] = set()
        self.app = Starlette(
            routes=[
                Route("/", self.index),
                Route("/api/v1/instance", self.instance),
                Route("/api/v2/instance", self.instance),
                Route("/api/v1/accounts/verify_credentials", self.verify_credentials),
                Route("/api/v1/timelines/tag/{hashtag}", self.tag_timeline),
                Route("/api/v1/timelines/public", self.public_timeline),
                Route("/api/v2/search", self.search),
                Route("/api/v1/statuses", self.create_status, methods=["POST"]),
                Route("/api/v1/statuses/{id}", self.get_status),
                Route("/api/v1/statuses/{id}/context", self.context),
                Route("/api/v1/statuses/{id}/{verb}", self.status_action, methods=["POST"]),
            ]
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI request."""
        await self.app(scope, receive, send)

    # -- helpers -------------------------------------------------------------------------------

    def _viewer(self, request: Request) -> Account | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(token.strip(), self.state.token):
            return self.state.me
        return None

    def _page(
        self, request: Request, candidates: list[Status]
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """One page of newest-first statuses, paged as Mastodon pages (ids compared as ids),
        and its headers."""
        params = request.query_params
        found = candidates
        if params.get("max_id"):
            found = [s for s in found if id_key(s.id) < id_key(params["max_id"])]
        if params.get("since_id"):
            found = [s for s in found if id_key(s.id) > id_key(params["since_id"])]
        limit = _limit(request)
        if params.get("min_id"):
            above = [s for s in found if id_key(s.id) > id_key(params["min_id"])]
            page = list(reversed(list(reversed(above))[:limit]))  # the oldest above, newest first
        else:
            page = found[:limit]
        viewer = self._viewer(request)
        headers = _rate_headers()
        if page:
            base = str(request.url.remove_query_params(["min_id", "max_id", "since_id"]))
            glue = "&" if "?" in base else "?"
            headers["Link"] = (
                f'<{base}{glue}max_id={page[-1].id}>; rel="next", '
                f'<{base}{glue}min_id={page[0].id}>; rel="prev"'
            )
        return [self.state.render(s, viewer) for s in page], headers

    # -- reading -------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        """What was posted in the sandbox, newest first (for a person watching the demo)."""
        rows = []
        for status in self.state.posted()[:200]:
            data = self.state.render(status)
            rows.append(
                f"<li><strong>@{html.escape(data['account']['acct'])}</strong> "
                f"<small>{html.escape(status.created_at)}"
                + (
                    f" in reply to {html.escape(status.in_reply_to_id)}"
                    if status.in_reply_to_id
                    else ""
                )
                + f"</small><div>{data['content']}</div></li>"
            )
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Luister sandbox</title>"
            "<h1>Luister sandbox (mastodon.example)</h1>"
            f"<p>{len(rows)} statuses posted here since the demo started.</p>"
            f"<ol>{''.join(rows)}</ol></html>"
        )
        return HTMLResponse(page)

    async def instance(self, request: Request) -> Response:
        """The instance and its limits."""
        return JSONResponse(
            {
                "domain": "mastodon.example",
                "uri": "mastodon.example",
                "title": "Luister sandbox",
                "description": "A loopback stand-in for a Mastodon instance, for the demo.",
                "version": "4.3.0 (compatible; Luister sandbox)",
                "configuration": {
                    "statuses": {
                        "max_characters": MAX_CHARACTERS,
                        "characters_reserved_per_url": 23,
                    }
                },
            }
        )

    async def verify_credentials(self, request: Request) -> Response:
        """The token's account."""
        viewer = self._viewer(request)
        if viewer is None:
            return _error(401, "The access token is invalid")
        return JSONResponse(viewer.render())

    async def tag_timeline(self, request: Request) -> Response:
        """Statuses posted here with any of the tags (`:hashtag` and `any[]`)."""
        tags = {request.path_params["hashtag"].lower()}
        tags |= {t.lower() for t in request.query_params.getlist("any[]")}
        found = [s for s in self.state.posted() if tags & set(s.tags)]
        body, headers = self._page(request, found)
        return JSONResponse(body, headers=headers)

    async def public_timeline(self, request: Request) -> Response:
        """Every public status posted here."""
        body, headers = self._page(request, self.state.posted())
        return JSONResponse(body, headers=headers)

    async def search(self, request: Request) -> Response:
        """Statuses by `resolve` of a URL/URI/id, or containing the words of `q`."""
        if self._viewer(request) is None:
            return _error(401, "The access token is invalid")
        query = request.query_params.get("q", "").strip()
        kind = request.query_params.get("type")
        statuses: list[Status] = []
        if query and kind in (None, "statuses"):
            known = self.state.find(query)
            if known is not None:
                statuses = [known]
            else:
                words = [w.lstrip("#").casefold() for w in query.split()]
                statuses = [
                    s for s in self.state.posted() if all(w in s.text.casefold() for w in words)
                ]
        page, headers = self._page(request, statuses)
        return JSONResponse({"accounts": [], "hashtags": [], "statuses": page}, headers=headers)

    async def get_status(self, request: Request) -> Response:
        """One status."""
        status = self.state.get(request.path_params["id"])
        if status is None:
            return _error(404, "Record not found")
        return JSONResponse(self.state.render(status, self._viewer(request)))

    async def context(self, request: Request) -> Response:
        """A status's ancestors and descendants."""
        status = self.state.get(request.path_params["id"])
        if status is None:
            return _error(404, "Record not found")
        viewer = self._viewer(request)
        return JSONResponse(
            {
                "ancestors": [self.state.render(s, viewer) for s in self.state.ancestors(status)],
                "descendants": [
                    self.state.render(s, viewer) for s in self.state.descendants(status.id)
                ],
            }
        )

    # -- writing -------------------------------------------------------------------------------

    async def create_status(self, request: Request) -> Response:
        """Post a status (a reply with `in_reply_to_id`); a repeated Idempotency-Key gets the
        status it made the first time."""
        viewer = self._viewer(request)
        if viewer is None:
            return _error(401, "The access token is invalid")
        try:
            body = await request.json()
        except ValueError:
            return _error(422, "Validation failed: send the status as JSON")
        if not isinstance(body, dict):
            return _error(422, "Validation failed: send the status as a JSON object")
        text = body.get("status")
        if not isinstance(text, str) or not text.strip():
            return _error(422, "Validation failed: Text can't be blank")
        if len(text) > MAX_CHARACTERS:
            return _error(
                422, f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded"
            )
        key = request.headers.get("idempotency-key")
        if key:
            earlier = self.state.by_idempotency_key(viewer, key)
            if earlier is not None:
                return JSONResponse(self.state.render(earlier, viewer))
        reply_to = body.get("in_reply_to_id")
        if reply_to is not None and self.state.get(str(reply_to)) is None:
            return _error(404, "Record not found")
        visibility = body.get("visibility") or "public"
        if visibility not in ("public", "unlisted", "private", "direct"):
            return _error(422, "Validation failed: Visibility is not included in the list")
        language = body.get("language")
        status = self.state.add_status(
            account=viewer,
            text=text,
            in_reply_to_id=str(reply_to) if reply_to is not None else None,
            language=language if isinstance(language, str) else None,
            visibility=visibility,
            idempotency_key=key,
        )
        if community.is_question(text):
            self._later(self._answer(status))
        return JSONResponse(self.state.render(status, viewer))

    async def status_action(self, request: Request) -> Response:
        """Favourite, unfavourite, reblog or unreblog a status."""
        viewer = self._viewer(request)
        if viewer is None:
            return _error(401, "The access token is invalid")
        verb = request.path_params["verb"]
        actions = {
            "favourite": ("favourite", True),
            "unfavourite": ("favourite", False),
            "reblog": ("reblog", True),
            "unreblog": ("reblog", False),
        }
        if verb not in actions:
            return _error(404, "Record not found")
        status = self.state.get(request.path_params["id"])
        if status is None:
            return _error(404, "Record not found")
        what, on = actions[verb]
        self.state.toggle(status, what, viewer, on)
        return JSONResponse(self.state.render(status, viewer))

    # -- the community -------------------------------------------------------------------------

    def _later(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, question: Status) -> None:
        """Answer our question after a pause, then tell `on_answer`."""
        try:
            for number, person in enumerate(community.answerers(self.state, question)):
                await asyncio.sleep(self.answer_delay if number == 0 else 1.0)
                text = community.answer_text(question, person, self.state.me)
                self.state.add_status(
                    account=person,
                    text=text,
                    in_reply_to_id=question.id,
                    language=community.language_of(question),
                )
            if self.on_answer is not None:
                await self.on_answer(question.uri)
        except Exception:  # the sandbox keeps serving whatever one answer does
            log.exception("the sandbox community could not answer status %s", question.id)

    async def settle(self) -> None:
        """Wait until every pending answer was posted (and heard)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
