"""Fake platforms for write tests: loopback route handlers that keep what they are sent and
answer as the platforms' documented APIs do.

Each fake keeps its posts in memory, so a reply made through it shows up when the thread is
read back, which is what the exactly-once checks rely on. `on_create` lets a test stall or
break a create after the platform has accepted it.
"""

from __future__ import annotations

import html
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from tests.connectors.servers import LoopbackServer, Reply, Request

NOW = "2026-11-27T10:00:00.000Z"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakePlatform:
    """Shared bookkeeping: the server, created posts, and a hook after each accepted create."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.lock = threading.Lock()
        self.ids = itertools.count(1000)
        self.creates: list[Request] = []
        self.on_create: Callable[[Request], Reply | None] | None = None

    def accepted(self, request: Request, reply: Reply) -> Reply:
        """Record an accepted create; the hook may stall or replace the answer."""
        with self.lock:
            self.creates.append(request)
        if self.on_create is not None:
            replaced = self.on_create(request)
            if replaced is not None:
                return replaced
        return reply

    def posted(self, path: str, method: str = "POST") -> list[Request]:
        """Requests received on `method path`."""
        return [r for r in self.server.requests if r.method == method and r.path == path]


class FakeMastodon(FakePlatform):
    """Statuses with Idempotency-Key, context, search-resolve, favourites and boosts."""

    def __init__(self, server: LoopbackServer, max_characters: int = 500) -> None:
        super().__init__(server)
        self.statuses: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.max_characters = max_characters
        self.actions: list[tuple[str, str]] = []
        host = server.base_url
        self.account = {
            "id": "1",
            "acct": "luister",
            "display_name": "Luister",
            "url": f"{host}/@luister",
            "uri": f"{host}/users/luister",
        }
        server.route("/api/v1/statuses", self._create, method="POST")
        server.route("/api/v1/statuses/{id}/context", self._context)
        server.route("/api/v1/statuses/{id}/{verb}", self._action, method="POST")
        server.route("/api/v2/search", self._search)
        server.route("/api/v1/accounts/verify_credentials", Reply.json(self.account))
        server.route("/api/v2/instance", lambda r: Reply.json(self._instance()))

    def _instance(self) -> dict[str, Any]:
        return {"configuration": {"statuses": {"max_characters": self.max_characters}}}

    def add_status(
        self, text: str, *, acct: str = "anna", in_reply_to_id: str | None = None
    ) -> dict[str, Any]:
        """A status someone else posted (remote accounts carry their domain in `acct`)."""
        account = {
            "id": f"acc-{acct}",
            "acct": acct,
            "display_name": acct.split("@")[0].title(),
            "url": f"https://mastodon.example/@{acct.split('@')[0]}",
            "uri": f"https://mastodon.example/users/{acct.split('@')[0]}",
        }
        return self._store(text, account, in_reply_to_id)

    def _store(
        self, text: str, account: dict[str, Any], in_reply_to_id: str | None
    ) -> dict[str, Any]:
        status_id = str(next(self.ids))
        who = account["acct"].split("@")[0]
        status = {
            "id": status_id,
            "created_at": _now(),
            "in_reply_to_id": in_reply_to_id,
            "visibility": "public",
            "language": "en",
            "uri": f"https://mastodon.example/users/{who}/statuses/{status_id}",
            "url": f"https://mastodon.example/@{who}/{status_id}",
            "content": f"<p>{html.escape(text)}</p>",
            "reblog": None,
            "account": account,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
        }
        with self.lock:
            self.statuses[status_id] = status
        return status

    def _create(self, request: Request) -> Reply:
        key = request.headers.get("idempotency-key")
        with self.lock:
            known = self.by_key.get(key) if key else None
        if known is not None:
            # Mastodon answers a repeated key with the status the first request made.
            return Reply.json(self.statuses[known])
        body = request.json()
        status = self._store(body["status"], self.account, body.get("in_reply_to_id"))
        if key:
            with self.lock:
                self.by_key[key] = status["id"]
        return self.accepted(request, Reply.json(status))

    def _context(self, request: Request) -> Reply:
        root = request.params["id"]
        descendants = [s for s in self.statuses.values() if self._under(s, root)]
        return Reply.json({"ancestors": [], "descendants": descendants})

    def _under(self, status: dict[str, Any], root: str) -> bool:
        parent = status.get("in_reply_to_id")
        while parent is not None:
            if parent == root:
                return True
            parent = self.statuses.get(parent, {}).get("in_reply_to_id")
        return False

    def _search(self, request: Request) -> Reply:
        q = request.arg("q")
        found = [s for s in self.statuses.values() if q in (s["uri"], s["url"])]
        return Reply.json({"accounts": [], "statuses": found[:1], "hashtags": []})

    def _action(self, request: Request) -> Reply:
        self.actions.append((request.params["verb"], request.params["id"]))
        return Reply.json(self.statuses.get(request.params["id"], {}))

    def ours(self) -> list[dict[str, Any]]:
        """Statuses the Luister account posted."""
        return [s for s in self.statuses.values() if s["account"]["acct"] == "luister"]


class FakeDiscourse(FakePlatform):
    """Topics of posts: POST /posts.json, /t/{id}.json, likes."""

    def __init__(self, server: LoopbackServer) -> None:
        super().__init__(server)
        self.posts: list[dict[str, Any]] = []
        self.likes: list[tuple[str, str]] = []
        server.route("/posts.json", self._create, method="POST")
        server.route("/t/{topic}.json", self._topic)
        server.route("/post_actions.json", self._like, method="POST")
        server.route("/post_actions/{id}.json", self._unlike, method="DELETE")

    def add_post(
        self, text: str, *, username: str = "anna", topic_id: int = 7, reply_to: int | None = None
    ) -> dict[str, Any]:
        """A post someone else wrote."""
        number = 1 + sum(1 for p in self.posts if p["topic_id"] == topic_id)
        post = {
            "id": next(self.ids),
            "topic_id": topic_id,
            "topic_slug": "fietsbaan",
            "post_number": number,
            "reply_to_post_number": reply_to,
            "username": username,
            "name": username.title(),
            "user_id": abs(hash(username)) % 1000,
            "created_at": _now(),
            "cooked": f"<p>{html.escape(text)}</p>",
            "raw": text,
            "post_type": 1,
        }
        with self.lock:
            self.posts.append(post)
        return post

    def _create(self, request: Request) -> Reply:
        body = request.json()
        if request.headers.get("api-key") != "key" or len(body.get("raw", "")) < 20:
            return Reply.json({"errors": ["Body is too short"]}, status=422)
        topic_id = body.get("topic_id") or next(self.ids)
        post = self.add_post(
            body["raw"],
            username=request.headers.get("api-username", "?"),
            topic_id=topic_id,
            reply_to=body.get("reply_to_post_number"),
        )
        return self.accepted(request, Reply.json(post))

    def _topic(self, request: Request) -> Reply:
        topic_id = int(request.params["topic"])
        posts = [p for p in self.posts if p["topic_id"] == topic_id]
        return Reply.json(
            {"id": topic_id, "slug": "fietsbaan", "post_stream": {"posts": posts, "stream": []}}
        )

    def _like(self, request: Request) -> Reply:
        self.likes.append(("like", str(request.json()["id"])))
        return Reply.json({"id": request.json()["id"]})

    def _unlike(self, request: Request) -> Reply:
        self.likes.append(("unlike", request.params["id"]))
        return Reply.json({"id": int(request.params["id"])})


class FakeLemmy(FakePlatform):
    """API v3: login, comments (with `path` ancestry), comment list, votes."""

    def __init__(self, server: LoopbackServer) -> None:
        super().__init__(server)
        self.comments: list[dict[str, Any]] = []
        self.votes: list[dict[str, Any]] = []
        server.route("/api/v3/site", Reply.json({"all_languages": [{"id": 37, "code": "en"}]}))
        server.route("/api/v3/user/login", Reply.json({"jwt": "lemmy-jwt"}), method="POST")
        server.route("/api/v3/comment", self._create, method="POST")
        server.route("/api/v3/comment/list", self._list)
        server.route("/api/v3/comment/like", self._vote, method="POST")
        server.route("/api/v3/post/like", self._vote, method="POST")
        self.post = {"id": 55, "name": "Fietsbaan app", "ap_id": f"{server.base_url}/post/55"}

    def view(self, comment: dict[str, Any], name: str) -> dict[str, Any]:
        """A CommentView as Lemmy 0.19 sends it."""
        creator = {"name": name, "actor_id": f"{self.server.base_url}/u/{name}"}
        return {"comment": comment, "post": self.post, "creator": creator, "counts": {}}

    def add_comment(self, text: str, *, name: str = "anna", parent: int | None = None) -> dict:
        """A comment someone wrote; its `path` names its ancestors."""
        comment_id = next(self.ids)
        parent_path = next(
            (c["comment"]["path"] for c in self.comments if c["comment"]["id"] == parent), "0"
        )
        comment = {
            "id": comment_id,
            "post_id": self.post["id"],
            "content": text,
            "published": _now(),
            "ap_id": f"{self.server.base_url}/comment/{comment_id}",
            "path": f"{parent_path}.{comment_id}",
            "language_id": 37,
        }
        view = self.view(comment, name)
        with self.lock:
            self.comments.append(view)
        return view

    def _create(self, request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer lemmy-jwt":
            return Reply.json({"error": "not_logged_in"}, status=401)
        body = request.json()
        view = self.add_comment(body["content"], name="luister", parent=body.get("parent_id"))
        return self.accepted(request, Reply.json({"comment_view": view}))

    def _list(self, request: Request) -> Reply:
        return Reply.json({"comments": list(reversed(self.comments))})

    def _vote(self, request: Request) -> Reply:
        self.votes.append(request.json())
        return Reply.json({"comment_view": self.comments[0] if self.comments else {}})


class FakeReddit(FakePlatform):
    """OAuth token, /api/comment (answers inside json.errors/data), /comments/{article}, votes."""

    def __init__(self, server: LoopbackServer) -> None:
        super().__init__(server)
        self.comments: list[dict[str, Any]] = []
        self.votes: list[dict[str, list[str]]] = []
        server.route(
            "/api/v1/access_token",
            Reply.json({"access_token": "reddit-token", "expires_in": 3600}),
            method="POST",
        )
        server.route("/api/comment", self._comment, method="POST")
        server.route("/api/vote", self._vote, method="POST")
        server.route("/comments/{article}", self._thread)

    def thing(self, text: str, *, author: str, parent: str) -> dict[str, Any]:
        """A t1 listing child."""
        short = f"c{next(self.ids)}"
        return {
            "kind": "t1",
            "data": {
                "id": short,
                "name": f"t1_{short}",
                "body": text,
                "author": author,
                "author_fullname": f"t2_{author}",
                "parent_id": parent,
                "link_id": "t3_abc",
                "permalink": f"/r/fietsen/comments/abc/_/{short}/",
                "created_utc": datetime.now(UTC).timestamp(),
                "replies": "",
            },
        }

    def _comment(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        thing = self.thing(form["text"], author="luister", parent=form["thing_id"])
        self.comments.append(thing)
        body = {"json": {"errors": [], "data": {"things": [thing]}}}
        return self.accepted(request, Reply.json(body))

    def _vote(self, request: Request) -> Reply:
        self.votes.append(parse_qs(request.body.decode()))
        return Reply.json({})

    def _thread(self, request: Request) -> Reply:
        listing = {"kind": "Listing", "data": {"children": self.comments}}
        return Reply.json([{"kind": "Listing", "data": {"children": []}}, listing])


class FakeBluesky(FakePlatform):
    """A PDS: createSession, createRecord/deleteRecord, getPostThread."""

    DID = "did:plc:luister"

    def __init__(self, server: LoopbackServer) -> None:
        super().__init__(server)
        self.records: list[dict[str, Any]] = []
        server.route(
            "/xrpc/com.atproto.server.createSession",
            Reply.json({"accessJwt": "a.b.c", "refreshJwt": "r", "did": self.DID}),
            method="POST",
        )
        server.route("/xrpc/com.atproto.repo.createRecord", self._create, method="POST")
        server.route("/xrpc/com.atproto.repo.deleteRecord", Reply.json({}), method="POST")
        server.route("/xrpc/app.bsky.feed.getPostThread", self._thread)

    def _create(self, request: Request) -> Reply:
        body = request.json()
        rkey = f"3k{next(self.ids)}"
        uri = f"at://{self.DID}/{body['collection']}/{rkey}"
        self.records.append({"uri": uri, "cid": f"cid{rkey}", **body})
        return self.accepted(request, Reply.json({"uri": uri, "cid": f"cid{rkey}"}))

    def _thread(self, request: Request) -> Reply:
        replies = [
            {
                "post": {
                    "uri": r["uri"],
                    "cid": r["cid"],
                    "author": {"did": self.DID, "handle": "luister.example"},
                    "record": r["record"],
                    "indexedAt": NOW,
                }
            }
            for r in self.records
            if r["collection"] == "app.bsky.feed.post"
        ]
        return Reply.json({"thread": {"post": {}, "replies": replies}})


class FakeStackExchange(FakePlatform):
    """API 2.3 writes: answers/add (wrapped in the usual envelope), answers, /me, upvote."""

    def __init__(self, server: LoopbackServer) -> None:
        super().__init__(server)
        self.answers: list[dict[str, Any]] = []
        server.route("/2.3/questions/{id}/answers/add", self._answer, method="POST")
        server.route("/2.3/questions/{id}/answers", self._answers)
        server.route("/2.3/me", Reply.json({"items": [{"user_id": 42}], "quota_remaining": 9}))
        server.route("/2.3/posts/{id}/upvote", Reply.json({"items": []}), method="POST")

    def _answer(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        answer = {
            "answer_id": next(self.ids),
            "question_id": int(request.params["id"]),
            "body": f"<p>{html.escape(form['body'])}</p>",
            "owner": {"user_id": 42, "display_name": "Luister"},
            "creation_date": int(datetime.now(UTC).timestamp()),
            "link": f"https://stackoverflow.com/a/{len(self.answers) + 1}",
        }
        self.answers.append(answer)
        return self.accepted(request, Reply.json({"items": [answer], "quota_remaining": 9}))

    def _answers(self, request: Request) -> Reply:
        return Reply.json({"items": self.answers, "has_more": False, "quota_remaining": 9})
