"""Signing in and out of the desk, CSRF, roles, languages and the security headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from api.desk.i18n import LANGUAGES, catalogue
from listener.models import Role
from tests.conftest import MakeStaff
from tests.desk.conftest import SignIn


async def test_root_sends_a_stranger_to_a_labelled_login_form(client: httpx.AsyncClient) -> None:
    answer = await client.get("/queue")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/queue"
    form = await client.get("/login", headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
    assert '<label for="username">Gebruikersnaam</label>' in form.text
    assert '<label for="password">Wachtwoord</label>' in form.text
    english = await client.get("/login")
    assert '<label for="username">Username</label>' in english.text
    assert '<label for="password">Password</label>' in english.text


async def test_sign_in_sets_a_guarded_cookie_and_a_wrong_password_says_so(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    staff = await make_staff(Role.MODERATOR)
    wrong = await client.post("/login", data={"username": staff.username, "password": "nope nope"})
    assert wrong.status_code == 401
    assert "Unknown user or wrong password." in wrong.text
    assert "luister_desk" not in wrong.headers.get("set-cookie", "")
    right = await client.post(
        "/login", data={"username": staff.username, "password": "correct horse", "next": "/queue"}
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/queue"
    cookie = right.headers["set-cookie"].lower()
    assert "luister_desk=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http on loopback; https gets Secure


async def test_sign_in_behind_https_sets_a_secure_cookie(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    staff = await make_staff(Role.MODERATOR)
    answer = await client.post(
        "/login",
        data={"username": staff.username, "password": "correct horse"},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "secure" in answer.headers["set-cookie"].lower()


async def test_never_sends_you_to_another_site_after_sign_in(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    staff = await make_staff(Role.MODERATOR)
    answer = await client.post(
        "/login",
        data={"username": staff.username, "password": "correct horse", "next": "//evil.example/"},
    )
    assert answer.headers["location"] == "/"


async def test_writes_need_the_csrf_token_and_the_same_origin(desk_sign_in: SignIn) -> None:
    desk = await desk_sign_in(Role.MODERATOR)
    client = desk.client
    forged = await client.post("/preferences/language", data={"language": "nl"})
    assert forged.status_code == 403
    assert "expired" in forged.text
    cross = await client.post(
        "/preferences/language",
        data={"language": "nl", "csrf_token": desk.csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    ok = await client.post(
        "/preferences/language", data={"language": "nl", "csrf_token": desk.csrf}
    )
    assert ok.status_code == 303
    page = await client.get("/login?next=/queue", follow_redirects=True)
    assert '<html lang="nl">' in page.text
    assert "Afmelden" in page.text


async def test_sign_out_ends_the_session(desk_sign_in: SignIn) -> None:
    desk = await desk_sign_in(Role.MODERATOR)
    client = desk.client
    cookie = client.cookies.get("luister_desk")
    out = await client.post("/logout", headers=desk.headers)
    assert out.status_code == 303
    client.cookies.set("luister_desk", cookie or "")  # a copy kept by an attacker is dead too
    again = await client.get("/queue")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


async def test_htmx_without_a_session_is_told_where_to_sign_in(client: httpx.AsyncClient) -> None:
    answer = await client.get("/queue", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"] == "/login?next=/queue"


async def test_pages_carry_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    api = await client.get("/healthz")
    assert "content-security-policy" not in api.headers


async def test_vendored_htmx_is_served_from_the_app(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    src = re.search(r'src="(/static/vendor/htmx\.min\.js\?v=\w+)"', page.text)
    assert src
    script = await client.get(src.group(1))
    assert script.status_code == 200
    assert b"htmx" in script.content[:200]


def test_every_text_exists_in_english_and_dutch() -> None:
    texts = catalogue()
    assert set(texts["en"]) == set(texts["nl"]), set(texts["en"]) ^ set(texts["nl"])
    for lang in LANGUAGES:
        assert all(value.strip() for value in texts[lang].values())
    for path in (Path(__file__).parents[2] / "api/desk/locales").glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))  # each catalogue is valid JSON
