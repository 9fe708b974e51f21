"""What the sign-in endpoints take and return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LoginIn(BaseModel):
    """Trade a username and password for a new API token."""

    model_config = ConfigDict(extra="forbid")

    username: str
    password: str
    token_name: str = Field(default="login", max_length=100)


class TokenOut(BaseModel):
    """A new token; `token` is shown only this once."""

    id: int
    name: str
    token: str
    scopes: list[str]
    expires_at: datetime | None


class MeOut(BaseModel):
    """Who the caller is."""

    id: int
    username: str
    role: str
    scopes: list[str]
    token_prefix: str
