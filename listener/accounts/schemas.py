"""What the sign-in endpoints take and return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from listener.models import ApiToken


class LoginIn(BaseModel):
    """Trade a username and password for a new API token."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "anna",
                    "password": "correct horse battery staple",
                    "token_name": "laptop",
                }
            ]
        },
    )

    username: str = Field(max_length=200)
    password: str = Field(max_length=1024)
    token_name: str = Field(default="login", min_length=1, max_length=100)


class TokenOut(BaseModel):
    """A new token; `token` is shown only this once."""

    id: int
    name: str
    token: str
    scopes: list[str]
    expires_at: datetime | None = Field(
        description="A login token's moves on with each use, up to max_expires_at"
    )
    max_expires_at: datetime | None = None


class TokenInfoOut(BaseModel):
    """One of your tokens (never its secret)."""

    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = Field(description="Null: does not expire")
    max_expires_at: datetime | None = Field(description="A login token expires then at the latest")
    current: bool = Field(description="The token this request was made with")

    @classmethod
    def of(cls, token: ApiToken, *, current_id: int) -> TokenInfoOut:
        """Build from the row."""
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            scopes=list(token.scopes),
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
            max_expires_at=token.max_expires_at,
            current=token.id == current_id,
        )


class MeOut(BaseModel):
    """Who the caller is."""

    id: int
    username: str
    role: str
    scopes: list[str]
    token_prefix: str
