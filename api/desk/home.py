"""Signing in and out, the language switch, the start page and the live feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api.desk.i18n import LANGUAGES, best_language, translate
from api.desk.render import render
from api.desk.session import (
    COOKIE,
    DeskDep,
    DeskRefused,
    cookie_is_secure,
    safe_next,
    same_origin,
)
from listener.accounts.service import authenticate_token, revoke_own_token
from listener.accounts.signin import sign_in
from listener.accounts.throttle import LoginThrottled
from listener.rest.deps import SessionDep
from listener.stream.service import TypeFilter, event_stream

router = APIRouter(include_in_schema=False)


@router.get("/")
async def start(desk: DeskDep) -> RedirectResponse:
    """The queue is where the day starts."""
    return RedirectResponse("/queue", status_code=303)


def _login_language(request: Request, chosen: str | None) -> str:
    if chosen in LANGUAGES:
        return str(chosen)
    return best_language(request.headers.get("accept-language"))


@router.get("/login")
async def login_form(
    request: Request,
    session: SessionDep,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    lang: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    """The sign-in form (or straight on, for someone already signed in)."""
    token = request.cookies.get(COOKIE)
    if token and await authenticate_token(session, token=token, key=request.app.state.token_key):
        return RedirectResponse(safe_next(next), status_code=303)
    language = _login_language(request, lang)
    response = render(None, "login.html", {"next": safe_next(next)}, request=request, lang=language)
    if lang in LANGUAGES:
        response.set_cookie("luister_lang", language, samesite="lax", httponly=True)
    return response


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password (throttled as the API's login is) and start a session."""
    language = _login_language(request, request.cookies.get("luister_lang"))
    target = safe_next(next)

    def again(key: str, status: int, **params: int) -> Response:
        return render(
            None,
            "login.html",
            {"next": target, "username": username, "message": translate(language, key, **params)},
            request=request,
            lang=language,
            status=status,
        )

    if not same_origin(request):
        return again("error.cross_site", 403)
    if not username.strip() or not password:
        return again("login.missing", 422)
    settings = request.app.state.settings
    try:
        issued = await sign_in(
            session,
            username=username.strip(),
            password=password,
            address=request.client.host if request.client else None,
            key=request.app.state.token_key,
            settings=settings,
            token_name="desk",
        )
    except LoginThrottled as exc:
        await session.rollback()
        response = again("login.throttled", 429, seconds=int(exc.extra.get("retry_after", 1)))
        response.headers["Retry-After"] = str(exc.extra.get("retry_after", 1))
        return response
    if issued is None:
        return again("login.failed", 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        issued.token,
        max_age=int(settings.login_token_max_days * 86400),
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request),
        path="/",
    )
    return response


@router.post("/logout")
async def logout(desk: DeskDep, session: SessionDep) -> RedirectResponse:
    """End the session: its token is revoked, the cookie removed."""
    await revoke_own_token(session, user_id=desk.user_id, token_id=desk.principal.token.id)
    await session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/preferences/language")
async def choose_language(
    desk: DeskDep,
    session: SessionDep,
    language: Annotated[str, Form(max_length=5)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> RedirectResponse:
    """Keep the person's interface language (English or Dutch)."""
    if language not in LANGUAGES:
        raise DeskRefused("error.language", status=422)
    user = desk.principal.user
    user.ui_language = language
    session.add(user)
    await session.commit()
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/live")
async def live(desk: DeskDep, request: Request) -> StreamingResponse:
    """The event log as Server-Sent Events for the desk's pages (resumes with Last-Event-ID)."""
    resume = request.headers.get("last-event-id", "")
    server = getattr(request.app.state, "server", None)
    return StreamingResponse(
        event_stream(
            request.app.state.sessions,
            after=int(resume) if resume.isdigit() and len(resume) < 19 else None,
            types=TypeFilter.parse(None),
            stopping=lambda: bool(getattr(server, "should_exit", False)),
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
