"""The sandbox platform as Luister's Mastodon connector sees it, over the guarded client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from api.sandbox.server import SandboxServer
from connectors.base import WriteAction
from connectors.http import BlockedAddress, HttpPolicy, guarded_client
from connectors.mastodon import MastodonConfig, MastodonConnector
from connectors.writes import PostRef, WriteRequest
from tests.connectors.servers import LoopbackServer
from tests.sandbox.conftest import ANNA_POST, eventually

connector = MastodonConnector()


@pytest.fixture
async def guarded(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    """A guarded client admitting exactly the sandbox's address and port."""
    async with guarded_client(HttpPolicy(allow_hosts=(sandbox.allow_entry,), retries=0)) as c:
        yield c


def _config(sandbox: SandboxServer, **changes: object) -> MastodonConfig:
    values: dict[str, object] = {
        "instance_url": sandbox.url,
        "hashtag": "fietsbaan",
        "access_token": sandbox.state.token,
    }
    return MastodonConfig.model_validate(values | changes)


def _request(text: str, key: str, target: PostRef | None = None) -> WriteRequest:
    action = WriteAction.REPLY if target is not None else WriteAction.POST
    return WriteRequest(action=action, text=text, idempotency_key=key, target=target)


async def test_the_tag_timeline_lists_what_was_posted_since_not_the_samples(
    sandbox: SandboxServer, guarded: httpx.AsyncClient
) -> None:
    config = _config(sandbox)
    first = await connector.fetch(client=guarded, config=config, cursor={})
    await connector.post(
        client=guarded, config=config, request=_request("Nieuw: docks in Zuilen #Fietsbaan", "k1")
    )
    second = await connector.fetch(client=guarded, config=config, cursor=first.cursor)
    third = await connector.fetch(client=guarded, config=config, cursor=second.cursor)

    assert first.items == []
    [heard] = second.items
    assert heard.text == "Nieuw: docks in Zuilen #Fietsbaan"
    assert heard.author is not None and heard.author.handle == "@fietsbaan@mastodon.example"
    assert third.items == []


async def test_a_reply_resolves_a_sample_by_its_id_and_a_repeated_key_posts_once(
    sandbox: SandboxServer, guarded: httpx.AsyncClient
) -> None:
    config = _config(sandbox)
    anna = PostRef(external_id=ANNA_POST, author_handle="@anna@mastodon.example")
    request = _request("Goede rit!", "same-key", anna)

    once = await connector.reply(client=guarded, config=config, request=request)
    again = await connector.reply(client=guarded, config=config, request=request)

    assert once.platform_id == again.platform_id
    [posted] = sandbox.state.by(sandbox.state.me)
    assert posted.in_reply_to_id == ANNA_POST
    assert posted.text == "@anna@mastodon.example Goede rit!"


async def test_writing_without_the_token_is_refused(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as plain:
        refused = await plain.post("/api/v1/statuses", json={"status": "hi"})
        wrong = await plain.post(
            f"/api/v1/statuses/{ANNA_POST}/favourite",
            headers={"Authorization": "Bearer not-the-token"},
        )

    assert refused.status_code == 401
    assert wrong.status_code == 401
    assert sandbox.state.by(sandbox.state.me) == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "Hoeveel kilometer haal je met de accu?",
            "@fietsbaan De accu houdt het bij mij ongeveer 40 km vol",
        ),
        ("How long does the battery last for you?", "@fietsbaan The battery lasts me about 40 km"),
    ],
)
async def test_the_author_answers_a_question_in_its_language_and_on_its_topic(
    sandbox: SandboxServer, guarded: httpx.AsyncClient, question: str, expected: str
) -> None:
    anna = PostRef(external_id=ANNA_POST, author_handle="@anna@mastodon.example")
    ours = await connector.reply(
        client=guarded, config=_config(sandbox), request=_request(question, "q", anna)
    )
    await eventually(lambda: sandbox.state.replies_to(ours.platform_id))

    thread = await connector.thread(
        client=guarded, config=_config(sandbox), root=replace(anna, platform_id=ANNA_POST)
    )

    answer = next(i for i in thread.items if i.reply_to_external_id == ours.external_id)
    assert answer.author is not None and answer.author.handle == "@anna@mastodon.example"
    assert answer.text.startswith(expected)


async def test_a_statement_gets_no_answer(
    sandbox: SandboxServer, guarded: httpx.AsyncClient
) -> None:
    anna = PostRef(external_id=ANNA_POST, author_handle="@anna@mastodon.example")
    ours = await connector.reply(
        client=guarded, config=_config(sandbox), request=_request("Dank je wel!", "s", anna)
    )
    question = await connector.reply(
        client=guarded, config=_config(sandbox), request=_request("En de accu?", "t", anna)
    )
    await eventually(lambda: sandbox.state.replies_to(question.platform_id))

    assert sandbox.state.replies_to(ours.platform_id) == []


async def test_the_guard_admits_the_sandbox_port_and_no_other_loopback_port(
    sandbox: SandboxServer, guarded: httpx.AsyncClient
) -> None:
    with LoopbackServer("127.0.0.1") as other, pytest.raises(BlockedAddress, match="loopback"):
        await guarded.get(f"{other.base_url}/api/v2/instance")

    admitted = await guarded.get(f"{sandbox.url}/api/v2/instance")

    assert admitted.json()["configuration"]["statuses"]["max_characters"] == 500


def test_a_port_entry_admits_that_address_and_port_only() -> None:
    from ipaddress import ip_address

    from connectors.http import AllowList, check_address

    allow = AllowList.parse(["127.0.0.1:8123", "[::1]:8124", "forum.lan:8080"])

    check_address("127.0.0.1", allow, port=8123)
    check_address("::1", allow, port=8124)
    for address, port in (("127.0.0.1", 8124), ("127.0.0.1", None), ("127.0.0.2", 8123)):
        with pytest.raises(BlockedAddress):
            check_address(ip_address(address), allow, port=port)
    assert allow.admits_name("forum.lan", 8080)
    assert not allow.admits_name("forum.lan", 8081)
    assert not allow.admits_name("forum.lan")
    with pytest.raises(ValueError, match="port"):
        AllowList.parse(["127.0.0.1:70000"])
