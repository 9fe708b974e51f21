"""Bluesky sessions: created from an app password once, refreshed, shared between polls."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from connectors._normalize import KeyedLocks, PlatformError, as_mapping, read_json, utcnow
from connectors.http import server_wait

if TYPE_CHECKING:
    from connectors.bluesky import BlueskyConfig

# Errors the PDS gives for a stale access token; anything else is a real failure.
_STALE_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
# Renew a little before the token's own expiry so a poll never starts with a dying token.
_EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass
class Session:
    """An atproto session: the tokens and when the access token stops working."""

    access_jwt: str
    refresh_jwt: str
    did: str
    expires_at: datetime | None

    def fresh(self, now: datetime) -> bool:
        """True while the access token has more than a minute to live (or its expiry is unknown)."""
        return self.expires_at is None or self.expires_at - _EXPIRY_MARGIN > now


def _jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, read without verifying (the PDS verifies; we only schedule)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _session_from(body: Any) -> Session:
    data = as_mapping(body)
    access, refresh, did = data.get("accessJwt"), data.get("refreshJwt"), data.get("did")
    if not (isinstance(access, str) and isinstance(refresh, str) and isinstance(did, str)):
        raise PlatformError("Bluesky session answer lacks accessJwt, refreshJwt or did")
    return Session(access, refresh, did, _jwt_expiry(access))


class SessionCache:
    """Sessions per (service, identifier), so polls reuse them: createSession is rate limited."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], Session] = {}
        self._locks = KeyedLocks()

    async def get(self, client: httpx.AsyncClient, cfg: BlueskyConfig) -> Session:
        """A usable session: the cached one, a refreshed one, or a new one."""
        key = (cfg.service_url, cfg.identifier.lower())
        async with self._locks(key):
            session = self._sessions.get(key)
            if session is None or not session.fresh(utcnow()):
                session = await self._renew(client, cfg, session)
                self._sessions[key] = session
            return session

    async def replace(
        self, client: httpx.AsyncClient, cfg: BlueskyConfig, stale: Session
    ) -> Session:
        """Renew a session the server rejected (unless another poll already did)."""
        key = (cfg.service_url, cfg.identifier.lower())
        async with self._locks(key):
            current = self._sessions.get(key)
            if current is not None and current.access_jwt != stale.access_jwt:
                return current
            session = await self._renew(client, cfg, stale)
            self._sessions[key] = session
            return session

    async def _renew(
        self, client: httpx.AsyncClient, cfg: BlueskyConfig, old: Session | None
    ) -> Session:
        if old is not None:
            response = await client.post(
                f"{cfg.service_url}/xrpc/com.atproto.server.refreshSession",
                headers={"Authorization": f"Bearer {old.refresh_jwt}"},
            )
            # A refresh token that expired or was revoked means logging in again; an outage
            # does not, since new sessions are the scarce resource.
            if response.status_code not in (400, 401):
                return _session_from(read_json(response, "Bluesky"))
        response = await client.post(
            f"{cfg.service_url}/xrpc/com.atproto.server.createSession",
            json={
                "identifier": cfg.identifier,
                "password": cfg.app_password.get_secret_value(),
            },
        )
        if response.status_code == 429:
            raise PlatformError(
                "Bluesky refused a new session: createSession rate limit reached",
                status=429,
                retry_after=server_wait(response.status_code, response.headers),
            )
        return _session_from(read_json(response, "Bluesky"))


SHARED_SESSIONS = SessionCache()


def bearer(session: Session) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.access_jwt}"}


def stale_token(response: httpx.Response) -> bool:
    if response.status_code not in (400, 401):
        return False
    try:
        return as_mapping(response.json()).get("error") in _STALE_TOKEN_ERRORS
    except ValueError:
        return False
