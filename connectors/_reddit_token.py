"""Reddit OAuth bearer tokens, cached per app and account until shortly before they expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from connectors._normalize import KeyedLocks, PlatformError, as_mapping, read_json, utcnow

if TYPE_CHECKING:
    from connectors.reddit import RedditConfig

# Renew the bearer token a minute early so no poll starts with one about to lapse.
_EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass
class _Token:
    value: str
    expires_at: datetime


class TokenCache:
    """Bearer tokens per app and account, reused until shortly before they expire."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._locks = KeyedLocks()

    @staticmethod
    def _key(cfg: RedditConfig) -> tuple[str, str, str]:
        return (cfg.auth_url, cfg.client_id, cfg.username or "")

    async def get(self, client: httpx.AsyncClient, cfg: RedditConfig) -> str:
        """A valid bearer token, fetched only when none is cached or it is about to expire."""
        key = self._key(cfg)
        async with self._locks(key):
            token = self._tokens.get(key)
            if token is None or token.expires_at - _EXPIRY_MARGIN <= utcnow():
                token = await self._request(client, cfg)
                self._tokens[key] = token
            return token.value

    def forget(self, cfg: RedditConfig, value: str) -> None:
        """Drop a token the API refused, so the next `get` fetches a new one."""
        key = self._key(cfg)
        if (token := self._tokens.get(key)) is not None and token.value == value:
            del self._tokens[key]

    @staticmethod
    async def _request(client: httpx.AsyncClient, cfg: RedditConfig) -> _Token:
        form = {"grant_type": "client_credentials"}
        if cfg.username is not None and cfg.password is not None:
            form = {
                "grant_type": "password",
                "username": cfg.username,
                "password": cfg.password.get_secret_value(),
            }
        response = await client.post(
            cfg.auth_url,
            data=form,
            auth=(cfg.client_id, cfg.client_secret.get_secret_value()),
            headers={"User-Agent": cfg.agent()},
        )
        body = as_mapping(read_json(response, "Reddit"))
        value, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value:
            # Reddit reports bad credentials as 200 {"error": "invalid_grant"}.
            error = body.get("error")
            raise PlatformError(f"Reddit gave no access token ({error or 'no reason given'})")
        seconds = lifetime if isinstance(lifetime, int | float) else 3600
        return _Token(value, utcnow() + timedelta(seconds=seconds))


SHARED_TOKENS = TokenCache()
