"""`luister sources`: add and poll from the command line, and the dry-run `test`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.connectors.servers import LoopbackServer, Reply
from tests.listener.conftest import luister
from tests.listener.test_polling import rss


@pytest.fixture
def feed() -> Iterator[LoopbackServer]:
    """A feed with two items on 127.0.0.1."""
    with LoopbackServer("127.0.0.1") as server:
        server.route(
            "/feed.xml",
            Reply.text(rss("Dock 4 broken", "Great ride"), content_type="application/rss+xml"),
        )
        yield server


@pytest.mark.slow
def test_add_then_poll_puts_items_in_the_queue_once(
    cli_env: dict[str, str],
    feed: LoopbackServer,
) -> None:
    env = dict(cli_env, LUISTER_HTTP_ALLOW_HOSTS="127.0.0.1")
    added = luister("sources", "add", "rss", feed.url("/feed.xml"), env=env)
    assert added.returncode == 0, added.stderr
    source_id = added.stdout.strip()

    first = luister("sources", "poll", source_id, env=env)
    second = luister("sources", "poll", source_id, env=env)

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["new"] == 2
    assert json.loads(second.stdout)["new"] == 0
    listed = luister("sources", "list", "--json", env=env)
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["mentions"], row["state"]) == (2, "active")


def test_dry_run_is_refused_unless_the_host_is_allow_listed(
    cli_env: dict[str, str],
    feed: LoopbackServer,
) -> None:
    refused = luister("sources", "test", "rss", "--url", feed.url("/feed.xml"), env=cli_env)
    assert refused.returncode == 2
    assert "127.0.0.1" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert feed.hits("/feed.xml") == 0

    env = dict(cli_env, LUISTER_HTTP_ALLOW_HOSTS="127.0.0.1")
    allowed = luister("sources", "test", "rss", "--url", feed.url("/feed.xml"), env=env)
    assert allowed.returncode == 0, allowed.stderr
    items = [json.loads(line) for line in allowed.stdout.splitlines()]
    assert {i["platform"] for i in items} == {"rss"}
    assert len(items) == 2


def test_dry_run_names_a_bad_setting(cli_env: dict[str, str]) -> None:
    result = luister("sources", "test", "rss", "--url", "not-a-url", env=cli_env)
    assert result.returncode == 2
    assert "url" in result.stderr and "Traceback" not in result.stderr


def test_unknown_kind_is_bad_usage(cli_env: dict[str, str]) -> None:
    result = luister("sources", "add", "myspace", "https://myspace.example", env=cli_env)
    assert result.returncode == 2
    assert "unknown source kind" in result.stderr
