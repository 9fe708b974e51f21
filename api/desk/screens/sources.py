"""The sources screen: every source's health; admins add, test, pause, resume and fix credentials.

Everyone signed in reads the list and each source's health (last poll, last success, failures,
why it is paused or failing) with its settings masked, as `GET /api/v1/sources` shows them.
Writes are the API's admin-only actions, through the same service functions: adding a source
(`create_source`), pausing and resuming, and replacing credentials (`update_source`, which seals
them with `listener.sources.credentials`); a secret is never shown back, only whether one is set.
Testing fetches once through the guarded HTTP client, as `luister sources test` does, and
stores nothing.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import httpx
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, SecretStr, ValidationError

from api.desk.render import error_page, is_fragment_request, render, toast
from api.desk.screens.common import desk_router
from api.desk.session import AdminDesk, Desk, DeskDep
from connectors.http import describe_error
from connectors.registry import UnknownKind, get_connector, list_kinds
from listener.rest.deps import HttpClientDep, SessionDep
from listener.rest.params import IdPath
from listener.sources import service
from listener.sources.credentials import (
    CredentialError,
    masked_config,
    open_config,
    secret_fields,
)
from listener.sources.schemas import PauseIn, SourceIn

router = desk_router()

#: Flash messages a redirect may name (`?done=paused`); anything else is ignored.
DONE = frozenset({"created", "paused", "resumed", "settings"})
#: How many fetched items a test shows.
TEST_SHOWN = 5
#: Form fields that are not connector settings.
_BASE_FIELDS = ("kind", "name", "poll_interval_seconds", "keep")


# -- connector settings as form fields ----------------------------------------------------------


@dataclass(frozen=True)
class ConfigField:
    """One connector setting as the add form shows it."""

    name: str
    control: Literal["text", "password", "number", "checkbox", "select", "list"]
    required: bool
    default: Any = None
    options: tuple[str, ...] = ()
    hint: str = ""
    nullable: bool = False
    #: The desk's catalogue key for the hint (`sources.hint.<kind>.<name>`); the connector's
    #: own description is the English text and the fallback.
    hint_key: str = ""

    @property
    def form_name(self) -> str:
        return f"config.{self.name}"


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `| None`, and whether None was allowed."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def config_fields(kind: str) -> list[ConfigField]:
    """The settings of `kind`'s connector, in the order its model declares them."""
    model: type[BaseModel] = get_connector(kind).config_model
    fields: list[ConfigField] = []
    for name, info in model.model_fields.items():
        annotation, nullable = _unwrap(info.annotation)
        origin = typing.get_origin(annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        control: Literal["text", "password", "number", "checkbox", "select", "list"] = "text"
        options: tuple[str, ...] = ()
        if annotation is SecretStr:
            control, default = "password", None
        elif annotation is bool:
            control = "checkbox"
        elif annotation is int:
            control = "number"
        elif origin is Literal:
            control, options = "select", tuple(str(a) for a in typing.get_args(annotation))
        elif origin is list:
            control = "list"
            default = ", ".join(str(x) for x in default or [])
        fields.append(
            ConfigField(
                name=name,
                control=control,
                required=info.is_required(),
                default=default,
                options=options,
                hint=info.description or "",
                nullable=nullable,
                hint_key=f"sources.hint.{kind}.{name}",
            )
        )
    return fields


def _config_from_form(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """Connector settings from the add form: blanks left out so defaults apply."""
    config: dict[str, Any] = {}
    for f in config_fields(kind):
        raw = form.get(f.form_name, "")
        if f.control == "checkbox":
            config[f.name] = raw in ("true", "on", "1")
        elif f.control == "list":
            values = [part.strip() for part in raw.split(",") if part.strip()]
            if values:
                config[f.name] = values
        elif raw.strip():
            config[f.name] = raw.strip() if f.control != "password" else raw
    keep = form.get("keep", "").strip()
    if keep:
        config[service.KEEP] = keep
    return config


def _error_field(message: str) -> tuple[str, str]:
    """The form field a service error names (`config: url: …` → `config.url`), and its text."""
    head, _, rest = message.partition(": ")
    if head == "config" and rest:
        name, _, detail = rest.partition(": ")
        if detail and "; " not in rest:
            return f"config.{name.split('.')[0]}", detail
        return "config", rest
    if head in ("config.keep", service.KEEP):
        return "keep", rest
    if head in _BASE_FIELDS:
        return head, rest
    return "form", message


def _config_errors(kind: str, config: dict[str, Any]) -> dict[str, str]:
    """Every bad connector setting, by form field (the service stops at the first message)."""
    try:
        service.split_keep(config)
    except service.SourceError as exc:
        return {"keep": _error_field(str(exc))[1]}
    rest = {k: v for k, v in config.items() if k != service.KEEP}
    try:
        get_connector(kind).config_model.model_validate(rest)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = error.get("loc", ())
            key = f"config.{loc[0]}" if loc else "config"
            errors.setdefault(key, str(error.get("msg", "invalid")))
        return errors
    return {}


def _base_fields(form: dict[str, str]) -> tuple[SourceIn | None, dict[str, str]]:
    """Name and poll interval checked as the API checks them (its SourceIn model)."""
    interval: Any = form.get("poll_interval_seconds", "").strip() or 300
    try:
        checked = SourceIn.model_validate(
            {
                "kind": form.get("kind", ""),
                "name": form.get("name", "").strip(),
                "config": {},
                "poll_interval_seconds": interval,
            }
        )
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = error.get("loc", ())
            errors.setdefault(str(loc[0]) if loc else "form", str(error.get("msg", "invalid")))
        return None, errors
    return checked, {}


# -- health as the page shows it -----------------------------------------------------------------


@dataclass
class Credential:
    """Whether one credential of a source is usable; never its value."""

    name: str
    state: Literal["set", "env", "missing", "unreadable"]
    env: str | None = None


@dataclass
class SourceView:
    """A source with its health worded for the page."""

    status: service.SourceStatus
    state: Literal["ok", "failing", "paused", "waiting", "unknown_kind"]
    settings: dict[str, Any]
    credentials: list[Credential] = field(default_factory=list)
    problem: str | None = None

    @property
    def source(self) -> Any:
        return self.status.source


def _credentials(
    kind: str, stored: dict[str, Any], key: bytes
) -> tuple[list[Credential], str | None]:
    try:
        model = get_connector(kind).config_model
    except UnknownKind:
        return [], None
    names = secret_fields(model)
    unreadable: str | None = None
    problem: str | None = None
    try:
        open_config(model, stored, key=key)
    except CredentialError as exc:
        unreadable = str(exc).partition(":")[0]
        problem = str(exc)
    except ValidationError as exc:
        problem = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()[:5]
        )
    found: list[Credential] = []
    for name in names:
        value = stored.get(name)
        if name == unreadable:
            found.append(Credential(name, "unreadable"))
        elif isinstance(value, dict) and "$enc" in value:
            found.append(Credential(name, "set"))
        elif isinstance(value, dict) and "$env" in value:
            found.append(Credential(name, "env", env=str(value["$env"])))
        else:
            found.append(Credential(name, "missing"))
    return found, problem


def _view(status: service.SourceStatus, key: bytes) -> SourceView:
    s = status.source
    settings = {
        name: value
        for name, value in masked_config(s.config).items()
        if not (isinstance(value, dict) or (name in _secret_names(s.kind)))
    }
    if s.keep_query:
        settings["keep"] = s.keep_query
    credentials, problem = _credentials(s.kind, s.config, key)
    state: Literal["ok", "failing", "paused", "waiting", "unknown_kind"]
    try:
        get_connector(s.kind)
    except UnknownKind:
        state = "unknown_kind"
    else:
        if not s.enabled or s.paused_reason is not None:
            state = "paused"
        elif s.consecutive_failures > 0 or (s.last_error and not s.last_success_at):
            state = "failing"
        elif s.last_success_at is None:
            state = "waiting"
        else:
            state = "ok"
    return SourceView(
        status=status, state=state, settings=settings, credentials=credentials, problem=problem
    )


def _secret_names(kind: str) -> set[str]:
    try:
        return set(secret_fields(get_connector(kind).config_model))
    except UnknownKind:
        return set()


async def _views(session: SessionDep, key: bytes) -> list[SourceView]:
    return [_view(s, key) for s in await service.source_statuses(session)]


async def _one(session: SessionDep, source_id: int, key: bytes) -> SourceView | None:
    try:
        [status] = await service.source_statuses(session, source_id=source_id)
    except service.SourceNotFound:
        return None
    return _view(status, key)


def _kinds() -> list[str]:
    return list(list_kinds())


def _add_context(
    kind: str, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "kinds": _kinds(),
        "kind": kind,
        "fields": config_fields(kind),
        "values": values or {},
        "errors": errors or {},
    }


def _default_kind(kind: str | None) -> str:
    kinds = _kinds()
    if kind in kinds:
        return str(kind)
    return "rss" if "rss" in kinds else kinds[0]


def _key(request: Request) -> bytes:
    key: bytes = request.app.state.token_key
    return key


# -- pages -----------------------------------------------------------------------------------


@router.get("/sources")
async def sources_page(
    desk: DeskDep, session: SessionDep, kind: str | None = None, done: str | None = None
) -> HTMLResponse:
    """Every source with its health; admins also get the form to add one."""
    context: dict[str, Any] = {
        "views": await _views(session, _key(desk.request)),
        "done": done if done in DONE else None,
    }
    if desk.is_admin:
        context.update(_add_context(_default_kind(kind)))
    return render(desk, "sources/page.html", context)


@router.get("/sources/rows")
async def sources_rows(desk: DeskDep, session: SessionDep) -> HTMLResponse:
    """The table of sources alone (refreshed live when a source fails, pauses or recovers)."""
    return render(desk, "sources/_rows.html", {"views": await _views(session, _key(desk.request))})


@router.get("/sources/new")
async def new_source_form(desk: AdminDesk, kind: str | None = None) -> HTMLResponse:
    """The add form for one kind of source (htmx swaps it in when the kind changes)."""
    return render(desk, "sources/_add.html", _add_context(_default_kind(kind)))


@router.post("/sources", response_model=None)
async def add_source(desk: AdminDesk, session: SessionDep, request: Request) -> Response:
    """Add a source; a bad field is shown next to it and nothing is stored."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    kind = form.get("kind", "")
    if kind not in _kinds():
        values = {k: v for k, v in form.items() if k in ("name", "poll_interval_seconds")}
        errors = {"kind": desk.t("sources.error.kind")}
        return await _add_again(desk, session, _default_kind(None), values, errors)
    config = _config_from_form(kind, form)
    base, errors = _base_fields(form)
    errors |= _config_errors(kind, config)
    if base is not None and not errors:
        try:
            source = await service.create_source(
                session,
                kind=kind,
                name=base.name,
                config=config,
                key=_key(request),
                poll_interval_seconds=base.poll_interval_seconds,
            )
        except service.SourceError as exc:
            where, text = _error_field(str(exc))
            errors = {where: text}
        else:
            await session.commit()
            return RedirectResponse(f"/sources/{source.id}?done=created", status_code=303)
    await _rollback(session, desk)
    shown = {k: v for k, v in form.items() if not _is_secret_field(kind, k)}
    return await _add_again(desk, session, kind, shown, errors)


async def _rollback(session: SessionDep, desk: Desk) -> None:
    """Drop what a refused write left in the session; the page still names who is signed in."""
    await session.rollback()
    await session.refresh(desk.principal.user)


def _is_secret_field(kind: str, form_name: str) -> bool:
    return form_name.startswith("config.") and form_name[7:] in _secret_names(kind)


async def _add_again(
    desk: Desk, session: SessionDep, kind: str, values: dict[str, str], errors: dict[str, str]
) -> HTMLResponse:
    """The add form again with what was typed (never a secret) and each error by its field."""
    context = _add_context(kind, values, errors)
    if is_fragment_request(desk.request):
        return render(desk, "sources/_add.html", context)
    context["views"] = await _views(session, _key(desk.request))
    context["done"] = None
    return render(desk, "sources/page.html", context, status=422)


@router.get("/sources/{source_id}")
async def source_page(
    desk: DeskDep, session: SessionDep, source_id: IdPath, done: str | None = None
) -> HTMLResponse:
    """One source: health, settings (credentials masked), and the admin's actions."""
    view = await _one(session, source_id, _key(desk.request))
    if view is None:
        return _missing(desk)
    context = _detail_context(desk, view, done=done if done in DONE else None)
    return render(desk, "sources/detail.html", context)


def _missing(desk: Desk) -> HTMLResponse:
    return error_page(desk, desk.request, status=404, message=desk.t("sources.missing"))


@router.post("/sources/{source_id}/pause", response_model=None)
async def pause_source(
    desk: AdminDesk,
    session: SessionDep,
    source_id: IdPath,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Stop polling a source until it is resumed."""
    if len(reason) > 500:
        return error_page(desk, desk.request, status=422, message=desk.t("sources.pause.too_long"))
    try:
        source = await service.get_source(session, source_id=source_id)
    except service.SourceNotFound:
        return _missing(desk)
    service.pause(source, reason.strip() or PauseIn().reason)
    await session.commit()
    return RedirectResponse(f"/sources/{source_id}?done=paused", status_code=303)


@router.post("/sources/{source_id}/resume", response_model=None)
async def resume_source(desk: AdminDesk, session: SessionDep, source_id: IdPath) -> Response:
    """Poll a paused source again, starting now."""
    try:
        source = await service.get_source(session, source_id=source_id)
    except service.SourceNotFound:
        return _missing(desk)
    service.resume(source)
    await session.commit()
    return RedirectResponse(f"/sources/{source_id}?done=resumed", status_code=303)


def _edit_values(view: SourceView) -> dict[str, str]:
    """A source's current settings as the edit form shows them (credentials never)."""
    stored = masked_config(view.source.config)
    values: dict[str, str] = {}
    for f in config_fields(view.source.kind):
        if f.control == "password" or f.name not in stored:
            continue
        value = stored[f.name]
        if isinstance(value, bool):
            values[f.form_name] = "true" if value else "false"
        elif isinstance(value, list):
            values[f.form_name] = ", ".join(str(x) for x in value)
        elif value is not None:
            values[f.form_name] = str(value)
    values["keep"] = view.source.keep_query or ""
    return values


def _config_from_edit(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """Changed settings from the edit form: a blank credential keeps the stored one."""
    config: dict[str, Any] = {}
    for f in config_fields(kind):
        raw = form.get(f.form_name, "")
        if f.control == "checkbox":
            config[f.name] = raw in ("true", "on", "1")
        elif f.control == "list":
            config[f.name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif f.control == "password":
            if raw:
                config[f.name] = raw
        elif raw.strip():
            config[f.name] = raw.strip()
        elif f.nullable:
            config[f.name] = None
    config[service.KEEP] = form.get("keep", "").strip() or None
    return config


def _error_fields(message: str) -> dict[str, str]:
    """Every field a service error names (`config: a: …; b: …`), by form field."""
    where, text = _error_field(message)
    if where != "config":
        return {where: text}
    found: dict[str, str] = {}
    for part in text.split("; "):
        name, _, detail = part.partition(": ")
        if detail:
            found.setdefault(f"config.{name.split('.')[0]}", detail)
    return found or {"form": message}


def _detail_context(desk: Desk, view: SourceView, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"v": view, "done": None}
    if desk.is_admin and view.state != "unknown_kind":
        context.update(
            fields=config_fields(view.source.kind),
            values=_edit_values(view),
            errors={},
            secrets={c.name: c for c in view.credentials},
        )
    context.update(extra)
    return context


@router.post("/sources/{source_id}/settings", response_model=None)
async def save_settings(
    desk: AdminDesk, session: SessionDep, source_id: IdPath, request: Request
) -> Response:
    """Change a source's settings and credentials; blank credentials keep what is stored.

    Saving lifts an automatic pause (after failed polls), as the API's PATCH does.
    """
    view = await _one(session, source_id, _key(request))
    if view is None:
        return _missing(desk)
    if view.state == "unknown_kind":
        return error_page(desk, request, status=422, message=desk.t("sources.state.unknown_kind"))
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    config = _config_from_edit(view.source.kind, form)
    try:
        await service.update_source(session, source_id=source_id, key=_key(request), config=config)
    except service.SourceError as exc:
        errors = _error_fields(str(exc))
    else:
        await session.commit()
        return RedirectResponse(f"/sources/{source_id}?done=settings", status_code=303)
    await _rollback(session, desk)
    view = await _one(session, source_id, _key(request))
    if view is None:
        return _missing(desk)
    typed = {k: v for k, v in form.items() if not _is_secret_field(view.source.kind, k)}
    context = _detail_context(desk, view)
    context.update(values=typed, errors=errors)
    return render(desk, "sources/detail.html", context, status=422)


@dataclass
class TestOutcome:
    """What one test fetch found: a few items, or why it failed."""

    ok: bool
    message: str
    items: list[Any] = field(default_factory=list)
    count: int = 0
    rejected: int = 0


async def test_fetch(client: httpx.AsyncClient, *, kind: str, config: BaseModel) -> TestOutcome:
    """Fetch once as `luister sources test` does; stores nothing, never raises."""
    try:
        result = await get_connector(kind).fetch(client=client, config=config, cursor={})
    except Exception as exc:  # a dry run reports any failure; it never dumps a traceback
        return TestOutcome(ok=False, message=describe_error(exc))
    return TestOutcome(
        ok=True,
        message="",
        items=list(result.items[:TEST_SHOWN]),
        count=len(result.items),
        rejected=len(result.rejected),
    )


@router.post("/sources/test", response_model=None)
async def test_new_source(
    desk: AdminDesk, session: SessionDep, request: Request, client: HttpClientDep
) -> Response:
    """Fetch once with the add form's settings, before saving them; stores nothing."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    kind = form.get("kind", "")
    if kind not in _kinds():
        outcome = TestOutcome(ok=False, message=desk.t("sources.error.kind"))
        errors = {"kind": desk.t("sources.error.kind")}
        kind = _default_kind(None)
    else:
        config = _config_from_form(kind, form)
        errors = _config_errors(kind, config)
        if errors:
            fields = ", ".join(sorted(e.removeprefix("config.") for e in errors))
            outcome = TestOutcome(
                ok=False, message=desk.t("sources.test.incomplete", fields=fields)
            )
        else:
            rest = {k: v for k, v in config.items() if k != service.KEEP}
            model = get_connector(kind).config_model.model_validate(rest)
            outcome = await test_fetch(client, kind=kind, config=model)
    if is_fragment_request(request):
        return render(desk, "sources/_test.html", {"outcome": outcome})
    shown = {k: v for k, v in form.items() if not _is_secret_field(kind, k)}
    context = _add_context(kind, shown, errors)
    context.update(views=await _views(session, _key(request)), done=None, outcome=outcome)
    return render(desk, "sources/page.html", context)


@router.post("/sources/{source_id}/test", response_model=None)
async def test_source(
    desk: AdminDesk, session: SessionDep, source_id: IdPath, client: HttpClientDep
) -> Response:
    """Fetch once from a source with its stored settings and show what came back."""
    try:
        source = await service.get_source(session, source_id=source_id)
    except service.SourceNotFound:
        return _missing(desk)
    kind, stored = source.kind, dict(source.config)
    await _rollback(session, desk)  # no transaction held open while the platform answers
    try:
        model = get_connector(kind).config_model
        config = open_config(model, stored, key=_key(desk.request))
    except UnknownKind as exc:
        outcome = TestOutcome(ok=False, message=str(exc))
    except CredentialError as exc:
        outcome = TestOutcome(ok=False, message=str(exc))
    except ValidationError as exc:
        outcome = TestOutcome(
            ok=False, message=desk.t("sources.test.incomplete", fields=_fields_of(exc))
        )
    else:
        outcome = await test_fetch(client, kind=kind, config=config)
    if is_fragment_request(desk.request):
        return render(desk, "sources/_test.html", {"outcome": outcome})
    view = await _one(session, source_id, _key(desk.request))
    if view is None:
        return toast(desk, desk.t("sources.missing"))
    return render(desk, "sources/detail.html", _detail_context(desk, view, outcome=outcome))


def _fields_of(exc: ValidationError) -> str:
    return ", ".join(".".join(str(p) for p in e.get("loc", ())) or "?" for e in exc.errors()[:5])
