"""Staff rows for service-level tests; they never log in, so no (slow) argon2 hash is made."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Role, User


async def staff_user(session: AsyncSession, username: str, role: Role = Role.MODERATOR) -> User:
    """A user with `role`, flushed so it has an id."""
    user = User(username=username, password_hash="never-used", role=role.value, is_active=True)
    session.add(user)
    await session.flush()
    return user
