"""Signing in with a password: the one path the API's login and the desk's login share.

The attempt is throttled (listener.accounts.throttle) before the password is checked, and a
success issues a sliding login token: it expires when unused for the idle time and at the
latest `login_token_max_days` after sign-in.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from listener.accounts import throttle
from listener.accounts.service import IssuedToken, authenticate_password, create_token
from listener.models import utcnow
from listener.settings import Settings


async def sign_in(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    address: str | None,
    key: bytes,
    settings: Settings,
    token_name: str,
) -> IssuedToken | None:
    """A new login token for these credentials, or None when they are wrong.

    Raises `throttle.LoginThrottled` while the account or address must wait. Commits: other
    processes must see the attempt before the password is checked.
    """
    policy = throttle.ThrottlePolicy.of(settings)
    now = utcnow()
    await throttle.forget_old(session, policy=policy, now=now)
    await session.commit()
    attempt = await throttle.begin(
        session, username=username, address=address, secret=key, policy=policy, now=now
    )
    await session.commit()  # other processes see this attempt before the password is checked
    user = await authenticate_password(session, username=username, password=password)
    now = utcnow()
    await throttle.finish(session, attempt, ok=user is not None, policy=policy, now=now)
    if user is None:
        await session.commit()
        return None
    latest = now + timedelta(days=settings.login_token_max_days)
    issued = await create_token(
        session,
        user=user,
        name=token_name,
        key=key,
        expires_at=min(now + timedelta(hours=settings.login_token_idle_hours), latest),
        max_expires_at=latest,
    )
    await session.commit()
    return issued
