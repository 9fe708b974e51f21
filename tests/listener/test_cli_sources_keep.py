"""`luister sources test` and `list` with a keep-filter: the dry run takes the filter, applies it
to what it fetched and says how many items a poll would keep; the list shows the filter."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.connectors.servers import LoopbackServer, Reply
from tests.listener.conftest import luister
from tests.listener.test_polling import rss


@pytest.fixture
def feed() -> Iterator[LoopbackServer]:
    """Three items on 127.0.0.1, two of them about the docks."""
    with LoopbackServer("127.0.0.1") as server:
        server.route(
            "/feed.xml",
            Reply.text(
                rss("Dock 4 broken", "Great ride", "Dock at Neude full"),
                content_type="application/rss+xml",
            ),
        )
        yield server


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return dict(cli_env, LUISTER_HTTP_ALLOW_HOSTS="127.0.0.1")


def test_dry_run_applies_the_keep_filter_and_counts_what_it_keeps(
    env: dict[str, str], feed: LoopbackServer
) -> None:
    url = feed.url("/feed.xml")
    kept = luister("sources", "test", "rss", "--url", url, "--set", "keep=dock -neude", env=env)
    assert kept.returncode == 0, kept.stderr
    items = [json.loads(line) for line in kept.stdout.splitlines()]
    assert [i["text"].splitlines()[0] for i in items] == ["Dock 4 broken"]
    assert "3 items, 1 kept by the keep-filter, 0 rejected" in kept.stderr

    # An empty keep-filter keeps everything, as it does on a source.
    everything = luister("sources", "test", "rss", "--url", url, "--set", "keep=", env=env)
    assert everything.returncode == 0, everything.stderr
    assert len(everything.stdout.splitlines()) == 3
    assert feed.hits("/feed.xml") == 2


@pytest.mark.parametrize(
    ("keep", "named"),
    [("(dock", "config.keep"), ("sentiment:negative dock", "sentiment")],
)
def test_dry_run_refuses_a_keep_filter_it_cannot_use(
    env: dict[str, str], feed: LoopbackServer, keep: str, named: str
) -> None:
    url = feed.url("/feed.xml")
    refused = luister("sources", "test", "rss", "--url", url, "--set", f"keep={keep}", env=env)
    assert refused.returncode == 2
    assert named in refused.stderr and "column" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert feed.hits("/feed.xml") == 0


@pytest.mark.slow
def test_list_shows_the_keep_filter(env: dict[str, str], feed: LoopbackServer) -> None:
    url = feed.url("/feed.xml")
    filtered = luister("sources", "add", "rss", url, "--set", "keep=dock -neude", env=env)
    plain = luister("sources", "add", "rss", url, "--name", "all-of-it", env=env)
    assert filtered.returncode == 0 and plain.returncode == 0, filtered.stderr + plain.stderr

    listed = luister("sources", "list", "--json", env=env)
    rows = {row["name"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert rows["all-of-it"]["keep"] is None
    [named] = set(rows) - {"all-of-it"}
    assert rows[named]["keep"] == "dock -neude"
    assert "keep" not in rows[named]["config"]

    lines = {
        line.split("\t")[2]: line
        for line in luister("sources", "list", env=env).stdout.splitlines()
    }
    assert lines[named].endswith("\tkeep: dock -neude")
    assert "keep:" not in lines["all-of-it"]
