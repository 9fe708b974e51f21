"""Passwords are argon2id hashes; tokens carry a prefix and a checksum."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from listener.accounts.service import (
    AccountError,
    create_token,
    create_user,
    generate_token,
    hash_password,
    token_is_well_formed,
    verify_password,
)
from listener.models import Role, Scope


def test_passwords_are_hashed_with_argon2id() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong horse battery")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(AccountError, match="at least 8"):
        hash_password("short")


def test_tokens_have_prefix_and_checksum() -> None:
    token = generate_token()
    assert token.startswith("lst_") and len(token) == 42
    assert token_is_well_formed(token)
    typo = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    assert not token_is_well_formed(typo)


async def test_taken_username_is_refused(session: AsyncSession) -> None:
    await create_user(session, username="sam", password="password1", role=Role.ADMIN)
    with pytest.raises(AccountError, match="taken"):
        await create_user(session, username="sam", password="password2", role=Role.ANALYST)


async def test_a_token_cannot_exceed_its_owners_role(session: AsyncSession) -> None:
    analyst = await create_user(session, username="al", password="password1", role=Role.ANALYST)
    with pytest.raises(AccountError, match="cannot hold triage"):
        await create_token(session, user=analyst, name="x", key=b"k", scopes=[Scope.TRIAGE])
