"""The incidents screen: bursts of similar mentions triaged and answered as one, and the earlier
answers offered beside a conversation.

`GET /incidents` lists the incidents (newest first) as a keyboard list; `GET /incidents/{id}`
shows one with its members (each a link to its conversation), "status for all" (every open
member through the queue, one compare-and-swap each; what was skipped is listed with why),
"answer everyone" (a template filled in per author, with optional texts per language, a
preview of the first personalised replies, then one outbox reply per author exactly once) and
close/reopen. Everything goes through `moderation.incidents.service`, the same functions the
API calls. The incident service records no events of its own, so the members refresh when a
mention changes (`mention.updated`) and the list when mentions arrive; both also listen for
`incident.updated`, should it ever be recorded.

`GET /mentions/{id}/earlier` is a fragment for the conversation page: the earlier answered
questions most like this one, what we answered and what happened next, each answer with a
"use this answer" button (key `p` for the best one) that copies it into the reply box
(`static/incidents.js`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.desk.i18n import catalogue
from api.desk.render import error_page, render, toast
from api.desk.screens.common import desk_router
from api.desk.screens.reply import safe_url, undo_changes
from api.desk.session import Desk, DeskDep, WriterDesk
from listener.errors import LuisterError
from listener.kit import BadCursor, decode_id_cursor, encode_cursor
from listener.models import (
    Incident,
    IncidentStatus,
    Mention,
    OutboxMessage,
    ReplyTemplate,
    Status,
)
from listener.rest.deps import SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.settings import Settings
from moderation.incidents import earlier, service
from moderation.incidents.service import Member, Outcome
from moderation.outbox import reply_templates as templates
from moderation.outbox.service import PlaceholdersUnfilled
from moderation.queue.errors import NotFound

router = desk_router()

PAGE_SIZE = 50
#: Queue statuses every open member can be moved to at once (as the API allows).
STATUS_CHOICES = ("resolved", "answered", "spam", "hidden", "escalated", "open")
#: Personalised replies shown in the preview.
PREVIEW_AUTHORS = 5
MAX_TEMPLATE = 5000
MAX_REASON = 2000
EARLIER_LIMIT = 3
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_FILTERS = ("open", "closed", "all")


def _primary(language: str | None) -> str | None:
    primary = (language or "").split("-", 1)[0].lower()
    return primary if _LANGUAGE.fullmatch(primary) else None


def _reason_text(desk: Desk, slug: str | None, detail: str | None) -> str:
    """A skip reason in the person's words (the service's slug when we have no words for it)."""
    key = f"incidents.reason.{slug}"
    if slug and key in catalogue()["en"]:
        return desk.t(key)
    return detail or slug or ""


# ---- the list --------------------------------------------------------------------------------


async def _list_context(
    session: AsyncSession, status: str, cursor: str | None
) -> dict[str, Any] | None:
    """One page of incidents (None when the cursor is not ours)."""
    if status not in _FILTERS:
        status = "open"
    try:
        before = decode_id_cursor(cursor or None)
    except BadCursor:
        return None
    rows = await service.list_incidents(
        session,
        limit=PAGE_SIZE + 1,
        before_id=before,
        status=None if status == "all" else IncidentStatus(status),
    )
    page = rows[:PAGE_SIZE]
    more = encode_cursor(page[-1].id) if len(rows) > PAGE_SIZE else None
    return {"incidents": page, "status": status, "cursor": cursor or "", "next_cursor": more}


@router.get("/incidents")
async def incidents_page(
    desk: DeskDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=10)] = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """The incidents, newest first: title, status, when, how many mentions and authors."""
    context = await _list_context(session, status, cursor)
    if context is None:
        return error_page(desk, desk.request, status=400, message=desk.t("incidents.bad_cursor"))
    return render(desk, "incidents/page.html", context)


@router.get("/incidents/rows")
async def incident_rows(
    desk: DeskDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=10)] = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """The list's rows alone (refreshed live)."""
    context = await _list_context(session, status, cursor)
    if context is None:
        return toast(desk, desk.t("incidents.bad_cursor"), status=400)
    return render(desk, "incidents/_rows.html", context)


# ---- one incident ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorPlan:
    """An author of the incident, answered under their first member mention."""

    member: Member
    language: str | None
    answered: bool


async def _languages(session: AsyncSession, members: list[Member]) -> dict[int, str | None]:
    ids = [m.mention_id for m in members]
    found: dict[int, str | None] = {}
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(Mention.id, Mention.language).where(Mention.id.in_(ids[start : start + 1000]))
        )
        found.update({mid: _primary(lang) for mid, lang in rows.all()})
    return found


async def _authors(
    session: AsyncSession, settings: Settings, incident_id: int, members: list[Member]
) -> list[AuthorPlan]:
    """Each author once (their first mention in the incident) and whether they were answered."""
    languages = await _languages(session, members)
    first: dict[int, Member] = {}
    for member in members:
        if member.author_id is not None and member.author_id not in first:
            first[member.author_id] = member
    keys = {
        aid: service.reply_key(settings, incident_id=incident_id, author_id=aid) for aid in first
    }
    answered: set[str] = set()
    values = list(keys.values())
    for start in range(0, len(values), 1000):
        rows = await session.execute(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(values[start : start + 1000])
            )
        )
        answered.update(k for k in rows.scalars() if k)
    return [
        AuthorPlan(member=m, language=languages.get(m.mention_id), answered=keys[aid] in answered)
        for aid, m in first.items()
    ]


async def _incident_context(
    session: AsyncSession, settings: Settings, incident_id: int
) -> dict[str, Any]:
    incident = await service.get_incident(session, incident_id=incident_id)
    members = await service.members(session, incident_id=incident_id)
    authors = await _authors(session, settings, incident_id, members)
    languages = Counter(a.language for a in authors if a.language)
    open_members = sum(
        1 for m in members if m.status is not None and Status(m.status) in service.OPEN_STATUSES
    )
    return {
        "incident": incident,
        "members": members,
        "open_members": open_members,
        "authors": authors,
        "answered_count": sum(1 for a in authors if a.answered),
        "author_languages": sorted(languages.items(), key=lambda item: (-item[1], item[0])),
        "status_choices": STATUS_CHOICES,
        "templates": await templates.list_templates(session),
        "safe_url": safe_url,
    }


def _not_found(desk: Desk) -> HTMLResponse:
    return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))


@router.get("/incidents/{incident_id}")
async def incident_page(
    incident_id: IdPath, desk: DeskDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """One incident: its members, and (for staff who triage) status for all and one answer."""
    try:
        context = await _incident_context(session, settings, incident_id)
    except NotFound:
        return _not_found(desk)
    return render(desk, "incidents/detail.html", context)


@router.get("/incidents/{incident_id}/members")
async def members_fragment(
    incident_id: IdPath, desk: DeskDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The members table alone (refreshed live when mentions change)."""
    try:
        context = await _incident_context(session, settings, incident_id)
    except NotFound:
        return _not_found(desk)
    return render(desk, "incidents/_members.html", context)


@router.get("/incidents/{incident_id}/template")
async def template_field(
    incident_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    template: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The answer's text box filled from a stored template (empty for "write your own")."""
    chosen: ReplyTemplate | None = None
    if template.isdigit() and len(template) <= 10:
        try:
            chosen = await templates.get_template(session, template_id=int(template))
        except NotFound:
            chosen = None
    return render(
        desk,
        "incidents/_template_box.html",
        {
            "incident": {"id": incident_id},
            "body": chosen.body if chosen else "",
            "template_id": chosen.id if chosen else None,
        },
    )


@dataclass(frozen=True)
class AnswerForm:
    """The "answer everyone" form: the text, texts per language, the template it started from."""

    body: str
    variants: dict[str, str]
    template_id: int | None


async def _answer_form(desk: Desk) -> AnswerForm | str:
    """The form as posted, or the catalogue key of what is wrong with it."""
    form = await desk.request.form()
    body = form.get("body")
    body = body.strip() if isinstance(body, str) else ""
    if not body:
        return "incidents.answer.empty"
    if len(body) > MAX_TEMPLATE:
        return "incidents.answer.too_long"
    variants: dict[str, str] = {}
    for name, value in form.multi_items():
        if not name.startswith("variant_") or not isinstance(value, str) or not value.strip():
            continue
        language = name.removeprefix("variant_")
        if not _LANGUAGE.fullmatch(language):
            return "incidents.answer.bad_language"
        if len(value) > MAX_TEMPLATE:
            return "incidents.answer.too_long"
        variants[language] = value.strip()
    raw = form.get("template_id")
    chosen = int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) <= 10 else None
    return AnswerForm(body=body, variants=variants, template_id=chosen)


@router.post("/incidents/{incident_id}/preview")
async def preview(
    incident_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The first few replies as each author would get them, and who is answered already."""
    answer = await _answer_form(desk)
    if isinstance(answer, str):
        return toast(desk, desk.t(answer), status=422)
    try:
        await service.get_incident(session, incident_id=incident_id)
    except NotFound:
        return _not_found(desk)
    members = await service.members(session, incident_id=incident_id)
    authors = await _authors(session, settings, incident_id, members)
    waiting = [a for a in authors if not a.answered]
    samples = []
    for plan in waiting[:PREVIEW_AUTHORS]:
        body = answer.variants.get(plan.language or "", answer.body)
        values = await templates.mention_values(session, mention_id=plan.member.mention_id)
        text = templates.fill(body, values)
        samples.append(
            {
                "plan": plan,
                "who": plan.member.author_handle or values.get("author_name") or "—",
                "text": text,
                "unfilled": templates.unfilled_placeholders(text),
                "variant": plan.language in answer.variants,
            }
        )
    staff_only = sorted(
        {
            p
            for text in [answer.body, *answer.variants.values()]
            for p in templates.unfilled_placeholders(text)
            if p.strip("{} ") not in templates.MENTION_VARIABLES
        }
    )
    return render(
        desk,
        "incidents/_preview.html",
        {
            "samples": samples,
            "waiting": len(waiting),
            "answered": len(authors) - len(waiting),
            "more": max(0, len(waiting) - len(samples)),
            "staff_only": staff_only,
        },
    )


async def _template_id(
    session: AsyncSession,
    desk: Desk,
    incident: Incident,
    body: str,
    language: str | None,
    started_from: int | None,
) -> int:
    """The stored template for this text: the one it started from if unchanged, else the
    incident's own (created, or updated to this text)."""
    if started_from is not None:
        chosen = await session.get(ReplyTemplate, started_from)
        if (
            chosen is not None
            and chosen.body.strip() == body
            and chosen.language in (None, language)
        ):
            return chosen.id
    name = f"Incident {incident.id}"
    language_clause = (
        ReplyTemplate.language.is_(None) if language is None else ReplyTemplate.language == language
    )
    own = (
        await session.execute(
            select(ReplyTemplate).where(ReplyTemplate.name == name, language_clause)
        )
    ).scalar_one_or_none()
    if own is None:
        created = await templates.create_template(
            session, name=name, body=body, language=language, actor=desk.principal.user
        )
        return created.id
    if own.body != body:
        await templates.update_template(
            session, template_id=own.id, actor=desk.principal.user, changes={"body": body}
        )
    return own.id


def _outcome_rows(desk: Desk, outcome: Outcome, members: list[Member]) -> dict[str, Any]:
    by_mention = {m.mention_id: m for m in members}

    def row(item: dict[str, Any]) -> dict[str, Any]:
        member = by_mention.get(item.get("mention_id") or 0)
        return {
            "mention_id": item.get("mention_id"),
            "who": (member.author_handle if member else None) or f"#{item.get('mention_id')}",
            "status": item.get("status"),
            "reason": _reason_text(desk, item.get("reason"), item.get("detail")),
        }

    return {
        "done": [row(i) for i in outcome.done],
        "skipped": [row(i) for i in outcome.skipped],
    }


@router.post("/incidents/{incident_id}/reply")
async def answer_everyone(
    incident_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """One reply per author through the outbox; authors answered before are listed, not sent."""
    answer = await _answer_form(desk)
    if isinstance(answer, str):
        return toast(desk, desk.t(answer), status=422)
    try:
        incident = await service.get_incident(session, incident_id=incident_id)
        main = await _template_id(session, desk, incident, answer.body, None, answer.template_id)
        by_language = {
            lang: await _template_id(session, desk, incident, text, lang, None)
            for lang, text in answer.variants.items()
        }
        outcome = await service.reply_to_incident(
            session,
            incident_id=incident_id,
            template_id=main,
            by_language=by_language,
            actor=desk.principal.user,
            actor_label=desk.label,
            settings=settings,
        )
    except NotFound:
        await undo_changes(session, desk)
        return _not_found(desk)
    except PlaceholdersUnfilled as exc:
        await undo_changes(session, desk)
        missing = ", ".join(exc.extra.get("placeholders") or [])
        return toast(desk, desk.t("incidents.answer.fill_in", placeholders=missing), status=409)
    except LuisterError as exc:
        await undo_changes(session, desk)
        status = exc.status if 400 <= exc.status < 500 else 409
        return toast(desk, exc.detail or exc.title, status=status)
    await session.commit()
    members = await service.members(session, incident_id=incident_id)
    authors = await _authors(session, settings, incident_id, members)
    return render(
        desk,
        "incidents/_outcome.html",
        {
            "action": "reply",
            "incident": incident,
            "oob_intro": True,
            "authors": authors,
            "answered_count": sum(1 for a in authors if a.answered),
        }
        | _outcome_rows(desk, outcome, members),
    )


@router.post("/incidents/{incident_id}/status")
async def status_for_all(
    incident_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Every open member to one queue status; those held by others or that cannot go there are
    listed with why."""
    form = await desk.request.form()
    status = form.get("status")
    reason = form.get("reason")
    if not isinstance(status, str) or status not in STATUS_CHOICES:
        return toast(desk, desk.t("incidents.status.pick"), status=422)
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) > MAX_REASON:
        return toast(desk, desk.t("incidents.status.reason_too_long"), status=422)
    try:
        outcome = await service.set_status(
            session,
            incident_id=incident_id,
            status=Status(status),
            reason=reason or None,
            actor=desk.principal.user,
            actor_label=desk.label,
        )
    except NotFound:
        await undo_changes(session, desk)
        return _not_found(desk)
    except LuisterError as exc:
        await undo_changes(session, desk)
        return toast(desk, exc.detail or exc.title, status=409)
    await session.commit()
    context = await _incident_context(session, settings, incident_id)
    return render(
        desk,
        "incidents/_outcome.html",
        context
        | {"action": "status", "chosen": status, "oob_members": True}
        | _outcome_rows(desk, outcome, context["members"]),
    )


async def _open_or_close(
    incident_id: int, desk: Desk, session: AsyncSession, settings: Settings, *, close: bool
) -> HTMLResponse:
    try:
        if close:
            await service.close(
                session, incident_id=incident_id, actor=desk.principal.user, actor_label=desk.label
            )
        else:
            await service.reopen(
                session, incident_id=incident_id, actor=desk.principal.user, actor_label=desk.label
            )
    except NotFound:
        await undo_changes(session, desk)
        return _not_found(desk)
    except service.IncidentConflict:
        await undo_changes(session, desk)
        key = "incidents.already_closed" if close else "incidents.already_open"
        return toast(desk, desk.t(key), status=409)
    await session.commit()
    context = await _incident_context(session, settings, incident_id)
    message = desk.t("incidents.closed_done" if close else "incidents.reopened_done")
    return render(desk, "incidents/_head.html", context | {"announce": message})


@router.post("/incidents/{incident_id}/close")
async def close_incident(
    incident_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Close: the incident keeps its members and takes in no new ones."""
    return await _open_or_close(incident_id, desk, session, settings, close=True)


@router.post("/incidents/{incident_id}/reopen")
async def reopen_incident(
    incident_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Reopen: new similar mentions join it again."""
    return await _open_or_close(incident_id, desk, session, settings, close=False)


# ---- earlier answers (a fragment for the conversation page) -----------------------------------


@router.get("/mentions/{mention_id}/earlier")
async def earlier_fragment(mention_id: IdPath, desk: DeskDep, session: SessionDep) -> HTMLResponse:
    """Earlier answered questions most like this mention: our answer, and what happened next."""
    try:
        found = await earlier.earlier_answers(session, mention_id=mention_id, limit=EARLIER_LIMIT)
    except NotFound:
        return _not_found(desk)
    return render(
        desk,
        "incidents/_earlier.html",
        {"mention_id": mention_id, "found": found, "safe_url": safe_url},
    )
