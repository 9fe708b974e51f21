"""The digest screen: pick a week and a language and read that week's digest with its charts.

A stored digest (built by the schedule, the CLI, the API or here) shows at once. For a week
with none, the page asks for a preview (built, not stored; as `GET /api/v1/digests/preview`)
and shows a progress line while the database works; an admin can also build and store it
(as `POST /api/v1/digests`, audited). The digest's own HTML is made for mail clients (inline
styles, tables), so the desk renders the same worded view (`digest_view`) with its own
template; the charts are PNGs served from this site, or data: images for a preview.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import Form, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from api.desk.render import error_page, is_fragment_request, render
from api.desk.screens.common import desk_router
from api.desk.session import AdminDesk, Desk, DeskDep
from listener.digest import charts as digest_charts
from listener.digest import service
from listener.digest.builder import build_digest
from listener.digest.document import DigestDocument
from listener.digest.errors import NotFound
from listener.digest.messages import LANGUAGES, Language
from listener.digest.periods import Period, PeriodError
from listener.digest.query import MentionFilter
from listener.digest.render import data_uris
from listener.digest.view import digest_view
from listener.models import Digest, RecipientList, utcnow
from listener.rest.deps import SessionDep, SettingsDep
from listener.rest.params import IdPath, OptionalIdQuery

router = desk_router()

#: The years a week may be picked from (a digest compares with earlier weeks, so not year 1).
FIRST_YEAR, LAST_YEAR = 1970, 2999
#: How many stored digests the side list shows.
STORED_SHOWN = 20
#: The charts a digest can have, and the function drawing each.
CHARTS = digest_charts.CHARTS


def _language(value: str | None, desk: Desk) -> Language:
    """The digest language asked for, else the reader's own."""
    for code in LANGUAGES:
        if value == code:
            return code
    for code in LANGUAGES:
        if desk.lang == code:
            return code
    return "en"


def _week(value: str | None, timezone: str) -> tuple[Period, str | None]:
    """The week asked for (2026-W47), or the last complete one and the reason it was refused."""
    fallback = Period.last_complete_week(utcnow(), timezone)
    if not value:
        return fallback, None
    try:
        period = Period.week(value, timezone)
    except PeriodError as exc:
        return fallback, str(exc)
    except OverflowError:  # 9999-W52 ends in the year 10000
        period = Period(date.min, date.min, timezone, is_week=True)
    if not FIRST_YEAR <= period.first_day.year <= LAST_YEAR:
        return fallback, f"{value!r}: choose a week from {FIRST_YEAR} to {LAST_YEAR}"
    return period, None


def _neighbours(period: Period) -> tuple[str, str | None]:
    """The labels of the week before and (unless it has not ended yet) after `period`."""
    before = period.shifted(-1).label
    after = period.shifted(1)
    this_monday = date.today() - timedelta(days=date.today().weekday())
    return before, after.label if after.first_day < this_monday else None


async def _stored_for(session: SessionDep, label: str, digest_id: int | None) -> Digest | None:
    """The stored digest to show for a week: the one asked for, else the whole-community one."""
    if digest_id is not None:
        found = await session.get(Digest, digest_id)
        if found is not None and found.period_label == label and found.data:
            return found
    rows = (
        await session.execute(
            select(Digest)
            .where(Digest.period_label == label)
            .order_by(Digest.recipient_list_id.is_not(None), Digest.built_at.desc())
        )
    ).scalars()
    for digest in rows:
        if digest.data and not any((digest.filters or {}).values()):
            return digest
    return None


async def _stored_list(session: SessionDep) -> list[dict[str, Any]]:
    digests = await service.list_digests(session, limit=STORED_SHOWN)
    rows = await session.execute(select(RecipientList.id, RecipientList.name))
    names = {list_id: name for list_id, name in rows}
    return [
        {
            "digest": d,
            "list": names.get(d.recipient_list_id) if d.recipient_list_id else None,
        }
        for d in digests
        if d.data
    ]


def _document(digest: Digest) -> DigestDocument:
    return DigestDocument.model_validate(digest.data)


def _chart_names(data: DigestDocument) -> list[str]:
    """Which charts a digest has (as `digest_charts` decides), without drawing them."""
    return digest_charts.chart_names(data)


@router.get("/digest")
async def digest_page(
    desk: DeskDep,
    session: SessionDep,
    settings: SettingsDep,
    week: str | None = None,
    lang: str | None = None,
    id: OptionalIdQuery = None,
) -> HTMLResponse:
    """A week's digest in a language; stored ones at once, others built with a progress line."""
    language = _language(lang, desk)
    period, week_error = _week(week, settings.digest_timezone)
    stored = await _stored_for(session, period.label, id)
    context: dict[str, Any] = {
        "week": period.label,
        "language": language,
        "languages": LANGUAGES,
        "week_error": week_error,
        "asked_week": week or "",
        "neighbours": _neighbours(period),
        "stored": await _stored_list(session),
        "digest": stored,
    }
    if stored is not None:
        data = _document(stored)
        context["v"] = digest_view(data, language)
        context["charts"] = {
            name: f"/digest/{stored.id}/charts/{name}.png?lang={language}"
            for name in _chart_names(data)
        }
    return render(desk, "digest/page.html", context)


@router.get("/digest/preview")
async def digest_preview(
    desk: DeskDep,
    session: SessionDep,
    settings: SettingsDep,
    week: str | None = None,
    lang: str | None = None,
) -> HTMLResponse:
    """A week's digest built now and not stored (the page asks for it when none is stored)."""
    language = _language(lang, desk)
    period, week_error = _week(week, settings.digest_timezone)
    if week_error is not None:
        return error_page(desk, desk.request, status=422, message=week_error)
    data = await build_digest(
        session,
        period=period,
        filt=MentionFilter(),
        language=language,
        target_hours=settings.digest_response_target_hours,
    )
    await session.rollback()  # nothing held open while the charts are drawn
    charts = await run_in_threadpool(digest_charts.digest_charts, data, language)
    context: dict[str, Any] = {
        "v": digest_view(data, language),
        "charts": data_uris(charts),
        "digest": None,
        "week": period.label,
        "language": language,
    }
    if is_fragment_request(desk.request):
        return render(desk, "digest/_document.html", context)
    await session.refresh(desk.principal.user)
    context.update(
        languages=LANGUAGES,
        week_error=None,
        asked_week=week or "",
        neighbours=_neighbours(period),
        stored=await _stored_list(session),
        preview=True,
    )
    return render(desk, "digest/page.html", context)


@router.post("/digest/build", response_model=None)
async def build_and_store(
    desk: AdminDesk,
    session: SessionDep,
    settings: SettingsDep,
    week: str = Form(""),
    lang: str = Form(""),
) -> Response:
    """Build a week's digest and store it (a rebuild refreshes it); audited like the API's."""
    language = _language(lang, desk)
    period, week_error = _week(week, settings.digest_timezone)
    if week_error is not None:
        return error_page(desk, desk.request, status=422, message=week_error)
    digest = await service.store_digest(
        session,
        period=period,
        settings=settings,
        language=language,
        filt=MentionFilter(),
        actor=desk.label,
        actor_user_id=desk.user_id,
    )
    await session.commit()
    target = f"/digest?week={period.label}&lang={language}&id={digest.id}"
    if is_fragment_request(desk.request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/digest/{digest_id}/charts/{name}.png", response_model=None)
async def digest_chart(
    desk: DeskDep, session: SessionDep, digest_id: IdPath, name: str, lang: str | None = None
) -> Response:
    """One chart of a stored digest as a PNG, drawn in the language asked for."""
    language = _language(lang, desk)
    try:
        digest = await service.get_digest(session, digest_id=digest_id)
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("digest.missing"))
    data = _document(digest)
    if name not in _chart_names(data):
        return error_page(desk, desk.request, status=404, message=desk.t("digest.missing"))
    await session.rollback()
    png = await run_in_threadpool(CHARTS[name], data, language)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/digest/stored")
async def stored_digests(
    desk: DeskDep,
    session: SessionDep,
    settings: SettingsDep,
    week: str | None = None,
    lang: str | None = None,
) -> HTMLResponse:
    """The list of stored digests alone (refreshed live when one is built)."""
    period, _ = _week(week, settings.digest_timezone)
    context = {
        "stored": await _stored_list(session),
        "language": _language(lang, desk),
        "digest": await _stored_for(session, period.label, None),
    }
    return render(desk, "digest/_stored.html", context)
