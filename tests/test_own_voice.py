"""Issue 12 on the demo: our own voice is not a mention to triage; impersonators are flagged;
one clock; late data raises the outage alert without a manual command."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from listener.models import QueueItem, Status
from listener.settings import Settings
from moderation.queue import sla
from moderation.queue.priority import PriorityConfig, PriorityInputs, compute_priority

REPO = Path(__file__).resolve().parents[1]
OWN_HANDLES = {"@fietsbaan@mastodon.example", "fietsbaan.bsky.example", "Ruben_Fietsbaan"}


@dataclass(frozen=True)
class Demo:
    db: sqlite3.Connection
    env: dict[str, str]
    path: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`make run`'s setup path (`luister demo --no-serve`), with nothing run by hand after it."""
    tmp = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    env["LUISTER_DATA_DIR"] = str(tmp / "data")
    path = tmp / "demo.db"
    done = subprocess.run(
        [sys.executable, "-m", "api", "demo", "--db", str(path), "--no-serve"],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    db = sqlite3.connect(path)
    yield Demo(db, env | {"LUISTER_DATABASE_URL": f"sqlite+aiosqlite:///{path}"}, path)
    db.close()


def test_no_open_queue_item_comes_from_our_accounts(demo: Demo) -> None:
    ours = demo.db.execute(
        "SELECT count(*) FROM mentions m JOIN authors a ON a.id = m.author_id "
        "WHERE a.own_account_id IS NOT NULL"
    ).fetchone()[0]
    queued = demo.db.execute(
        "SELECT count(*) FROM queue_items q JOIN mentions m ON m.id = q.mention_id "
        "JOIN authors a ON a.id = m.author_id WHERE a.own_account_id IS NOT NULL"
    ).fetchone()[0]
    handles = {
        h for (h,) in demo.db.execute("SELECT handle FROM authors WHERE own_account_id IS NOT NULL")
    }
    # 57 posts of Fietsbaan's accounts and its forum staff member are stored, none queued.
    assert (ours, queued) == (57, 0)
    assert handles == OWN_HANDLES


def test_our_replies_answer_mentions_with_response_times(demo: Demo) -> None:
    rows = demo.db.execute(
        "SELECT q.first_response_at, q.status, m.created_at, min(r.created_at) FROM queue_items q "
        "JOIN mentions m ON m.id = q.mention_id "
        "JOIN mentions r ON r.reply_to_external_id = m.external_id AND r.platform = m.platform "
        "JOIN authors a ON a.id = r.author_id AND a.own_account_id IS NOT NULL "
        "GROUP BY q.mention_id"
    ).fetchall()
    assert len(rows) >= 30
    for first, status, created, reply in rows:
        assert status == "answered"
        # The response time runs from the mention's created_at to our reply's created_at.
        assert first == reply and first >= created


def test_impersonators_are_flagged_with_a_reason_and_actions(demo: Demo) -> None:
    rows = demo.db.execute(
        "SELECT q.priority, q.priority_explain FROM queue_items q "
        "JOIN mentions m ON m.id = q.mention_id JOIN authors a ON a.id = m.author_id "
        "WHERE a.display_name LIKE 'Fietsbaan Rewards%'"
    ).fetchall()
    assert len(rows) == 4
    for priority, explain in rows:
        flag = json.loads(explain)["impersonation"]
        assert "imitates" in flag["reason"] and flag["signals"]
        assert {"report_to_platform", "warn_followers"} <= {a["action"] for a in flag["actions"]}
        assert priority >= 90
        assert "impersonation" in json.loads(explain)["reason"]


def test_the_outage_alert_exists_after_setup(demo: Demo) -> None:
    alerts = demo.db.execute(
        "SELECT metric, dimension, window_start FROM alerts WHERE metric = 'volume'"
    ).fetchall()
    assert any(w.startswith("2026-11-18 07") for _, _, w in alerts), alerts


def test_the_digest_leaves_us_out_and_counts_our_posts(demo: Demo) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api", "digest", "build", "--week", "2026-W47", "--format", "json"],
        cwd=demo.path.parent,
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    digest = json.loads(done.stdout)
    authors = digest["authors"]
    named = [
        a["handle"]
        for section in authors.values()
        if isinstance(section, list)
        for a in section
        if isinstance(a, dict)
    ]
    assert named and not OWN_HANDLES & set(named)
    waiting = [q["author"] for q in digest["questions"]["oldest"]]
    assert not OWN_HANDLES & set(waiting)
    assert digest["response"]["our_posts"] > 0
    assert digest["response"]["responded"] > 0


def _inputs(created: datetime, received: datetime) -> PriorityInputs:
    return PriorityInputs(
        platform="mastodon",
        language="nl",
        text="De app is weer kapot, storing!",
        intents=["complaint"],
        sentiment_label="negative",
        sentiment_score=-0.9,
        followers=100,
        likes=0,
        reposts=0,
        replies=0,
        score=None,
        created_at=created,
        received_at=received,
    )


def test_a_sixteen_day_old_import_gets_no_fresh_sla() -> None:
    config = PriorityConfig.from_settings(Settings())
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    old = compute_priority(_inputs(now - timedelta(days=16), now), config=config, now=now)
    assert (old.due_at, old.sla_band, old.heard_late) == (None, None, True)
    assert "heard late" in old.reason
    fresh = compute_priority(_inputs(now - timedelta(minutes=20), now), config=config, now=now)
    # One clock: the deadline runs from the post's created_at, not from when it was heard.
    assert fresh.due_at is not None and fresh.sla_band is not None
    assert fresh.due_at == now - timedelta(minutes=20) + timedelta(
        minutes=config.sla_minutes[fresh.sla_band]
    )
    item = QueueItem(
        mention_id=1,
        status="new",
        due_at=None,
        first_response_at=None,
        sla_outcome=None,
        priority_explain=old.explain(),
    )
    assert sla.state(item, now) == "heard_late"
    answered = sla.response_changes(item, Status.ANSWERED, now)
    assert answered["sla_outcome"] == "heard_late"


def test_resolving_without_an_answer_is_not_met() -> None:
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    item = QueueItem(
        mention_id=1,
        status="open",
        due_at=now + timedelta(hours=1),
        first_response_at=None,
        sla_outcome=None,
        priority_explain={},
    )
    assert sla.response_changes(item, Status.RESOLVED, now) == {"sla_outcome": "unanswered"}
    item.sla_outcome, item.status = "unanswered", "resolved"
    assert sla.response_changes(item, Status.OPEN, now) == {"sla_outcome": None}
