"""Signing in at the desk from tests: a client with the session cookie and its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from listener.models import Role
from tests.conftest import MakeStaff, Staff
from tests.desk.browser import DeskServer, need_browser, serve_demo

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class DeskSession:
    """A signed-in person at the desk: who, and the CSRF token their pages carry."""

    staff: Staff
    client: httpx.AsyncClient
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        """What htmx sends with every write."""
        return {"X-CSRF-Token": self.csrf, "HX-Request": "true"}


SignIn = Callable[..., Awaitable[DeskSession]]


async def sign_in_at_desk(client: httpx.AsyncClient, staff: Staff) -> str:
    """Sign `staff` in through the login form; the CSRF token of their session."""
    answer = await client.post(
        "/login", data={"username": staff.username, "password": "correct horse", "next": "/"}
    )
    assert answer.status_code == 303, answer.text
    page = await client.get("/login?next=/queue", follow_redirects=True)
    found = _CSRF.search(page.text)
    assert found, "a signed-in page carries its CSRF token"
    return found.group(1)


@pytest.fixture
def desk_sign_in(client: httpx.AsyncClient, make_staff: MakeStaff) -> SignIn:
    """Create a user with `role` and sign them in at the desk (cookies live on `client`)."""

    async def _sign_in(role: Role = Role.MODERATOR, *, username: str | None = None) -> DeskSession:
        staff = await make_staff(role, username=username)
        client.cookies.clear()
        csrf = await sign_in_at_desk(client, staff)
        return DeskSession(staff=staff, client=client, csrf=csrf)

    return _sign_in


@pytest.fixture(scope="session")
def desk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskServer]:
    """One served demo desk for the session's browser tests (see tests/desk/browser.py)."""
    need_browser()
    with serve_demo(tmp_path_factory.mktemp("desk")) as server:
        yield server
