"""What the sandbox platform holds: accounts, statuses, favourites and boosts, kept in a file.

The sandbox speaks for `mastodon.example`, the instance of the demo's samples: every account
is shown in its full `user@domain` form and every status URI is a `https://mastodon.example/…`
URL, so what Luister hears from the sandbox lines up with the sample mentions (the same
authors, Fietsbaan's own account) whichever loopback port the sandbox runs on. The samples'
Mastodon mentions are seeded as statuses, so replies, likes and boosts can reach them; the
timelines and search show only what was posted since, so polling hears nothing twice.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DOMAIN = "mastodon.example"
OUR_USERNAME = "fietsbaan"
STATE_VERSION = 1
_HASHTAG = re.compile(r"(?<![\w/#])#(\w{1,100})")


@dataclass
class Account:
    """A Mastodon account as the sandbox shows it."""

    id: str
    acct: str
    display_name: str
    followers_count: int = 0
    url: str | None = None
    uri: str | None = None

    @property
    def username(self) -> str:
        """The part before the domain."""
        return self.acct.split("@", 1)[0]

    def render(self) -> dict[str, Any]:
        """The Account entity."""
        name, _, domain = self.acct.partition("@")
        home = f"https://{domain or DOMAIN}"
        return {
            "id": self.id,
            "username": name,
            "acct": self.acct,
            "display_name": self.display_name,
            "url": self.url or f"{home}/@{name}",
            "uri": self.uri or f"{home}/users/{name}",
            "followers_count": self.followers_count,
            "following_count": 0,
            "statuses_count": 0,
            "bot": False,
            "locked": False,
            "note": "",
            "avatar": "",
        }


@dataclass
class Status:
    """One status: text as plain text, rendered as Mastodon's sanitised HTML on the way out."""

    id: str
    account_id: str
    text: str
    created_at: str
    uri: str
    url: str
    in_reply_to_id: str | None = None
    language: str | None = None
    visibility: str = "public"
    content: str | None = None
    seeded: bool = False
    favourited_by: list[str] = field(default_factory=list)
    reblogged_by: list[str] = field(default_factory=list)
    idempotency_key: str | None = None

    @property
    def tags(self) -> list[str]:
        """Hashtags in the text, lower-cased."""
        return sorted({t.lower() for t in _HASHTAG.findall(self.text)})


def now_iso() -> str:
    """The current time as Mastodon writes it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_html(text: str) -> str:
    """Plain text as the paragraph HTML a Mastodon instance would serve (escaped)."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()] or [text]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def id_key(status_id: str) -> tuple[int, str]:
    """How Mastodon ids order: by length, then as text (they are numbers of any size)."""
    return (len(status_id), status_id)


class SandboxState:
    """The sandbox's data; every change is written to `path` (when given) at once.

    HTTP requests are served on the sandbox's own thread; tests and the demo read from others,
    so every access takes the lock.
    """

    def __init__(
        self,
        *,
        token: str,
        accounts: Iterable[Account] = (),
        statuses: Iterable[Status] = (),
        path: Path | None = None,
        port: int | None = None,
        source_ids: Iterable[int] = (),
    ) -> None:
        self.token = token
        self.path = path
        self.port = port
        self.source_ids = list(source_ids)
        self.accounts: dict[str, Account] = {a.id: a for a in accounts}
        self.statuses: dict[str, Status] = {s.id: s for s in statuses}
        self.lock = threading.RLock()
        self._last_id = max((int(s) for s in self.statuses if s.isdigit()), default=0)
        self.me = self.account_for(f"{OUR_USERNAME}@{DOMAIN}", "Fietsbaan")

    # -- accounts ------------------------------------------------------------------------------

    def account_for(
        self,
        acct: str,
        display_name: str | None = None,
        *,
        followers: int = 0,
        url: str | None = None,
        uri: str | None = None,
    ) -> Account:
        """The account with this `user@domain`, created if new."""
        acct = acct.lstrip("@").lower()
        if "@" not in acct:
            acct = f"{acct}@{DOMAIN}"
        with self.lock:
            for account in self.accounts.values():
                if account.acct == acct:
                    account.url = account.url or url
                    account.uri = account.uri or uri
                    account.followers_count = account.followers_count or followers
                    return account
            account = Account(
                id=str(len(self.accounts) + 1),
                acct=acct,
                display_name=display_name or acct.split("@", 1)[0],
                followers_count=followers,
                url=url,
                uri=uri,
            )
            self.accounts[account.id] = account
            return account

    def community(self) -> list[Account]:
        """Everyone but us, in id order."""
        with self.lock:
            return [a for a in self.accounts.values() if a.id != self.me.id]

    # -- statuses ------------------------------------------------------------------------------

    def next_id(self) -> str:
        """A Snowflake-like id, newer than every id so far (the samples' included)."""
        with self.lock:
            snowflake = int(time.time() * 1000) << 16
            self._last_id = max(self._last_id + 1, snowflake)
            return str(self._last_id)

    def add_status(
        self,
        *,
        account: Account,
        text: str,
        in_reply_to_id: str | None = None,
        language: str | None = None,
        visibility: str = "public",
        idempotency_key: str | None = None,
    ) -> Status:
        """Post a new status."""
        with self.lock:
            status_id = self.next_id()
            name, _, domain = account.acct.partition("@")
            home = f"https://{domain or DOMAIN}"
            status = Status(
                id=status_id,
                account_id=account.id,
                text=text,
                created_at=now_iso(),
                uri=f"{home}/users/{name}/statuses/{status_id}",
                url=f"{home}/@{name}/{status_id}",
                in_reply_to_id=in_reply_to_id,
                language=language,
                visibility=visibility,
                idempotency_key=idempotency_key,
            )
            self.statuses[status.id] = status
            self.save()
            return status

    def get(self, status_id: str) -> Status | None:
        """The status with this id."""
        with self.lock:
            return self.statuses.get(status_id)

    def find(self, reference: str) -> Status | None:
        """The status whose id, URI or URL is `reference` (what `resolve=true` search finds)."""
        reference = reference.strip()
        with self.lock:
            if reference in self.statuses:
                return self.statuses[reference]
            for status in self.statuses.values():
                if reference in (status.uri, status.url):
                    return status
        return None

    def by_idempotency_key(self, account: Account, key: str) -> Status | None:
        """The status this account already posted with this key."""
        with self.lock:
            for status in self.statuses.values():
                if status.account_id == account.id and status.idempotency_key == key:
                    return status
        return None

    def posted(self) -> list[Status]:
        """Statuses posted in the sandbox (not the seeded samples), newest first."""
        with self.lock:
            found = [s for s in self.statuses.values() if not s.seeded]
        return sorted(found, key=lambda s: id_key(s.id), reverse=True)

    def by(self, account: Account) -> list[Status]:
        """An account's statuses posted in the sandbox, oldest first."""
        return [s for s in reversed(self.posted()) if s.account_id == account.id]

    def replies_to(self, status_id: str) -> list[Status]:
        """Direct replies, oldest first."""
        with self.lock:
            found = [s for s in self.statuses.values() if s.in_reply_to_id == status_id]
        return sorted(found, key=lambda s: id_key(s.id))

    def descendants(self, status_id: str) -> list[Status]:
        """Every reply below a status, depth first as Mastodon's context lists them."""
        found: list[Status] = []
        seen = {status_id}

        def walk(parent: str) -> None:
            for child in self.replies_to(parent):
                if child.id not in seen:
                    seen.add(child.id)
                    found.append(child)
                    walk(child.id)

        walk(status_id)
        return found

    def ancestors(self, status: Status) -> list[Status]:
        """The chain of statuses a status replies to, oldest first."""
        chain: list[Status] = []
        seen = {status.id}
        parent_id = status.in_reply_to_id
        while parent_id is not None and parent_id not in seen:
            seen.add(parent_id)
            parent = self.get(parent_id)
            if parent is None:
                break
            chain.append(parent)
            parent_id = parent.in_reply_to_id
        return list(reversed(chain))

    def toggle(self, status: Status, what: str, account: Account, on: bool) -> None:
        """Favourite/unfavourite or reblog/unreblog."""
        with self.lock:
            who = status.favourited_by if what == "favourite" else status.reblogged_by
            if on and account.id not in who:
                who.append(account.id)
            elif not on and account.id in who:
                who.remove(account.id)
            self.save()

    def render(self, status: Status, viewer: Account | None = None) -> dict[str, Any]:
        """The Status entity."""
        with self.lock:
            account = self.accounts[status.account_id]
            parent = self.statuses.get(status.in_reply_to_id or "")
            replies = len(self.replies_to(status.id))
            return {
                "id": status.id,
                "uri": status.uri,
                "url": status.url,
                "created_at": status.created_at,
                "account": account.render(),
                "content": status.content if status.content is not None else to_html(status.text),
                "spoiler_text": "",
                "visibility": status.visibility,
                "sensitive": False,
                "language": status.language,
                "in_reply_to_id": status.in_reply_to_id,
                "in_reply_to_account_id": parent.account_id if parent is not None else None,
                "replies_count": replies,
                "reblogs_count": len(status.reblogged_by),
                "favourites_count": len(status.favourited_by),
                "favourited": viewer is not None and viewer.id in status.favourited_by,
                "reblogged": viewer is not None and viewer.id in status.reblogged_by,
                "reblog": None,
                "media_attachments": [],
                "mentions": [],
                "tags": [{"name": t, "url": f"https://{DOMAIN}/tags/{t}"} for t in status.tags],
                "emojis": [],
            }

    # -- seeding and the file ------------------------------------------------------------------

    def seed(self, mentions: Iterable[Mapping[str, Any]]) -> int:
        """Add the samples' Mastodon mentions as statuses (their ids kept); return how many."""
        added = 0
        with self.lock:
            for item in mentions:
                if item.get("platform") != "mastodon" or not item.get("external_id"):
                    continue
                author = item.get("author") or {}
                handle = str(author.get("handle") or "anonymous")
                account = self.account_for(
                    handle,
                    author.get("display_name"),
                    followers=int(author.get("followers") or 0),
                    url=author.get("profile_url"),
                    uri=author.get("platform_id"),
                )
                raw = item.get("raw") or {}
                status_id = str(item["external_id"])
                self.statuses[status_id] = Status(
                    id=status_id,
                    account_id=account.id,
                    text=str(item.get("text") or ""),
                    content=item.get("html"),
                    created_at=str(item.get("created_at") or now_iso()),
                    uri=str(raw.get("uri") or status_id),
                    url=str(item.get("url") or raw.get("uri") or status_id),
                    in_reply_to_id=item.get("reply_to_external_id"),
                    language=item.get("language"),
                    visibility=str(raw.get("visibility") or "public"),
                    seeded=True,
                )
                if status_id.isdigit():
                    self._last_id = max(self._last_id, int(status_id))
                added += 1
            self.save()
        return added

    def dump(self) -> dict[str, Any]:
        """Everything, as JSON-ready data."""
        with self.lock:
            return {
                "version": STATE_VERSION,
                "token": self.token,
                "port": self.port,
                "source_ids": self.source_ids,
                "accounts": [asdict(a) for a in self.accounts.values()],
                "statuses": [asdict(s) for s in self.statuses.values()],
            }

    def save(self) -> None:
        """Write the file atomically (a no-op for a state kept in memory)."""
        if self.path is None:
            return
        with self.lock:
            data = json.dumps(self.dump(), ensure_ascii=False)
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text(data, encoding="utf-8")
            os.replace(partial, self.path)

    @classmethod
    def load(cls, path: Path) -> SandboxState:
        """The state written at `path`; ValueError when it is not one."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a sandbox state file ({exc})") from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: not a sandbox state file of version {STATE_VERSION}")
        return cls(
            token=str(data["token"]),
            accounts=[Account(**a) for a in data.get("accounts", [])],
            statuses=[Status(**s) for s in data.get("statuses", [])],
            path=path,
            port=data.get("port"),
            source_ids=data.get("source_ids", []),
        )

    @classmethod
    def create(cls, path: Path | None = None) -> SandboxState:
        """A new, empty sandbox with a fresh access token."""
        return cls(token="sbx_" + secrets.token_urlsafe(24), path=path)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file (blank and broken lines skipped: the import reports them)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict):
                yield item
