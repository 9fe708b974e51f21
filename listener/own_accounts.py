"""Our own accounts: which authors speak for us, and the SQL that leaves them out.

Posts by our own accounts are the conversation (stored, shown in threads) but never incoming
mentions: the queue does not triage them, and the digest and the spike check count them as
our responses rather than as volume, reach or loyal voices. `authors.own_account_id` is the
one flag everything reads; this module keeps it in step with the `own_accounts` table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from listener.errors import LuisterError
from listener.kit.id_lists import ids_in
from listener.models import Author, Mention, OwnAccount


class OwnAccountInvalid(LuisterError):
    """An own account without a handle or an id, or one that is already configured."""

    status = 422
    type_slug = "invalid-own-account"
    title = "Invalid own account"


class OwnAccountConflict(LuisterError):
    status = 409
    type_slug = "own-account-exists"
    title = "Own account already configured"


class OwnAccountNotFound(LuisterError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


def normalise_handle(handle: str | None) -> str | None:
    """'@Fietsbaan@Mastodon.example' → 'fietsbaan@mastodon.example'; '' → None."""
    if handle is None:
        return None
    cleaned = handle.strip().lstrip("@").lower()
    if cleaned.startswith("u/"):
        cleaned = cleaned[2:]
    return cleaned or None


def local_name(handle: str | None) -> str | None:
    """The handle without its instance: 'kees@mastodon.example' → 'kees'."""
    cleaned = (handle or "").strip().lstrip("@")
    if cleaned.startswith("u/"):
        cleaned = cleaned[2:]
    return cleaned.split("@", 1)[0] or None


@dataclass(frozen=True)
class OwnRule:
    """One own account, ready to compare against authors."""

    id: int
    platform: str
    handle: str | None
    platform_id: str | None

    def matches(self, platform: str, handle: str | None, platform_id: str | None) -> bool:
        if platform != self.platform:
            return False
        if self.platform_id is not None and platform_id == self.platform_id:
            return True
        theirs = normalise_handle(handle)
        if self.handle is None or theirs is None:
            return False
        if theirs == self.handle:
            return True
        # A handle configured without an instance matches that name on any instance.
        return "@" not in self.handle and theirs.split("@", 1)[0] == self.handle


async def own_rules(session: AsyncSession) -> list[OwnRule]:
    rows = (await session.execute(select(OwnAccount).order_by(OwnAccount.id))).scalars()
    return [OwnRule(r.id, r.platform, normalise_handle(r.handle), r.platform_id) for r in rows]


async def list_own_accounts(session: AsyncSession) -> list[OwnAccount]:
    return list((await session.execute(select(OwnAccount).order_by(OwnAccount.id))).scalars())


async def mark_own_authors(
    session: AsyncSession,
    *,
    author_ids: Iterable[int] | None = None,
    rules: list[OwnRule] | None = None,
) -> list[int]:
    """Set `own_account_id` on these authors (all when None); the ids now marked as ours.

    `rules` are the configured accounts (`own_rules`), when the caller has read them already.
    """
    if rules is None:
        rules = await own_rules(session)
    stmt = select(
        Author.id, Author.platform, Author.handle, Author.platform_id, Author.own_account_id
    )
    if author_ids is not None:
        ids = sorted(set(author_ids))
        if not ids:
            return []
        stmt = stmt.where(ids_in(session, Author.id, ids))
    else:
        stmt = stmt.where(
            or_(
                Author.platform.in_({r.platform for r in rules}), Author.own_account_id.is_not(None)
            )
        )
    own: list[int] = []
    changes: list[dict[str, int | None]] = []
    for row in await session.execute(stmt):
        match = next(
            (r.id for r in rules if r.matches(row.platform, row.handle, row.platform_id)), None
        )
        if match is not None:
            own.append(row.id)
        if match != row.own_account_id:
            changes.append({"id": row.id, "own_account_id": match})
    if changes:
        await session.execute(update(Author), changes)
    return own


async def add_own_account(
    session: AsyncSession,
    *,
    platform: str,
    handle: str | None = None,
    platform_id: str | None = None,
    label: str | None = None,
) -> OwnAccount:
    """Configure an account as ours and mark the authors it matches."""
    platform = platform.strip().lower()
    handle = (handle or "").strip() or None
    platform_id = (platform_id or "").strip() or None
    if not platform:
        raise OwnAccountInvalid("platform: required")
    if handle is None and platform_id is None:
        raise OwnAccountInvalid("give a handle, a platform_id, or both")
    clash = await session.execute(
        select(OwnAccount.id).where(
            OwnAccount.platform == platform,
            OwnAccount.handle.is_(None) if handle is None else OwnAccount.handle == handle,
            OwnAccount.platform_id.is_(None)
            if platform_id is None
            else OwnAccount.platform_id == platform_id,
        )
    )
    if clash.first() is not None:
        raise OwnAccountConflict(f"{platform} {handle or platform_id} is already one of ours")
    account = OwnAccount(platform=platform, handle=handle, platform_id=platform_id, label=label)
    session.add(account)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent add of the same account
        raise OwnAccountConflict(
            f"{platform} {handle or platform_id} is already one of ours"
        ) from exc
    await mark_own_authors(session)
    return account


async def remove_own_account(session: AsyncSession, *, account_id: int) -> list[int]:
    """Stop treating an account as ours; the author ids that are no longer ours."""
    before = set(
        (await session.execute(select(Author.id).where(Author.own_account_id == account_id)))
        .scalars()
        .all()
    )
    deleted = await session.execute(
        delete(OwnAccount).where(OwnAccount.id == account_id).returning(OwnAccount.id)
    )
    if deleted.scalar_one_or_none() is None:
        raise OwnAccountNotFound(f"own account {account_id} does not exist")
    still = set(await mark_own_authors(session))
    return sorted(before - still)


# Made once: an alias copies every column of the table (about a millisecond for authors), and
# this test is part of most queries, on every request and ingest batch. The alias always stays
# in its own subquery (`correlate_except`), so two of these in one statement never mix.
_OURS = aliased(Author, name="our_author")


def by_us(mention: type[Mention] = Mention) -> ColumnElement[bool]:
    """The mention was written by one of our own accounts."""
    return (
        exists()
        .where(_OURS.id == mention.author_id, _OURS.own_account_id.is_not(None))
        .correlate_except(_OURS)
    )


def not_by_us(mention: type[Mention] = Mention) -> ColumnElement[bool]:
    """The mention comes from someone else (or from no known author)."""
    return ~by_us(mention)


async def brand_names(session: AsyncSession, extra: Sequence[str] = ()) -> list[str]:
    """Names an impersonator would imitate: own labels and handles, plus configured terms."""
    names: set[str] = {t.strip().lower() for t in extra if t.strip()}
    for account in await list_own_accounts(session):
        for value in (account.label, local_name(account.handle)):
            if value and len(value.strip()) >= 3:
                names.add(value.strip().lower())
        if account.handle and "." in (local_name(account.handle) or ""):
            # bluesky-style handles: 'fietsbaan.bsky.social' → 'fietsbaan'
            names.add((local_name(account.handle) or "").split(".", 1)[0].lower())
    return sorted(n for n in names if len(n) >= 3 and "." not in n and "@" not in n)
