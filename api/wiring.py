"""How Luister is put together: the one place every way in is built from.

The HTTP app, the CLI, the arq worker and the embedded runner all take their session factory
(with the reactions to stored mentions) and their background jobs from here, so the four can
no longer drift apart: a reply to our question is linked as an answer whichever way it came in,
and a job added to `JOBS` runs in both deployments.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener import events
from listener.alerts.tasks import alert_cron
from listener.db import make_sessionmaker
from listener.digest.tasks import digest_cron
from listener.jobs import JobList, Periodic, Task
from listener.nlp import copies
from listener.nlp.store import LANGUAGES_KEY, LanguageSettings
from listener.reactions import Reactions
from listener.settings import Settings
from listener.sources.tasks import poll_source_job, recheck_sources_job, sweep_due_sources
from listener.webhooks.tasks import deliver_webhooks, purge_events_job
from moderation.incidents import reactions as incidents
from moderation.incidents.tasks import detect_incidents_job
from moderation.outbox import followup
from moderation.outbox.tasks import follow_threads_job, send_outbox_job, sweep_outbox
from moderation.privacy import reactions as privacy
from moderation.privacy.tasks import retention_job
from moderation.queue import own
from moderation.queue import reactions as triage
from moderation.queue.tasks import bulk_job_task, triage_sweep_task


def build_reactions(settings: Settings) -> Reactions:
    """What happens to every batch of stored or changed mentions, in this order."""
    return Reactions(
        hooks=(
            # Copies of erased posts (and posts of erased people) go before anything reads them.
            (privacy.HOOK_NAME, privacy.suppression_reaction(settings)),
            # The event log: mention.created first (it precedes any event the reactions below
            # write about the same mention), its payload brought up to date last.
            (events.CREATED_HOOK, events.mention_created_reaction),
            # Answers to our questions are linked first, so the rescoring below ranks them.
            (followup.HOOK_NAME, followup.followup_reaction(settings)),
            # Our own posts leave the queue and answer what they reply to, before rescoring.
            (own.HOOK_NAME, own.own_voice_reaction(settings)),
            # The same text with a link or a promotion from many authors is spam, before rescoring.
            (copies.HOOK_NAME, copies.copy_spam_reaction),
            # A reply under a member of an open incident joins it (moderation.incidents).
            (incidents.HOOK_NAME, incidents.join_open_incidents),
            (triage.HOOK_NAME, triage.triage_reaction(settings)),
            (events.CREATED_PAYLOAD_HOOK, events.mention_created_payload_reaction),
        )
    )


def session_factory(settings: Settings, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine` carrying the reactions and tagging languages: every way in uses it."""
    return make_sessionmaker(
        engine,
        reactions=build_reactions(settings),
        info={LANGUAGES_KEY: LanguageSettings.from_settings(settings)},
    )


_EVERY_5_SECONDS = frozenset(range(0, 60, 5))

#: Every background job, declared once with its schedule. arq's cron and the embedded runner
#: are both built from this list.
JOBS = JobList(
    tasks=(
        Task(poll_source_job),
        Task(send_outbox_job),
        # Chunks commit as they go; a timed-out job is resumed by the triage sweep.
        Task(bulk_job_task, at_least_seconds=900),
    ),
    periodic=(
        Periodic(
            sweep_due_sources,
            second=frozenset({0, 15, 30, 45}),
            run_at_startup=True,
            timeout_seconds=30,
        ),
        # Outbox rows are swept often: the undo window is short and replies should not lag.
        Periodic(sweep_outbox, second=_EVERY_5_SECONDS, run_at_startup=True, timeout_seconds=30),
        Periodic(follow_threads_job, second=frozenset({20})),
        # Deletions at the source: every 5 minutes, recent and open mentions are asked about again.
        Periodic(
            recheck_sources_job,
            minute=frozenset(range(3, 60, 5)),
            second=frozenset({25}),
            at_least_seconds=240,
        ),
        # Digests: the weekly schedule and email retries each minute; spikes once an hour.
        Periodic(digest_cron, second=frozenset({40}), at_least_seconds=60),
        Periodic(alert_cron, minute=frozenset({1}), second=frozenset({10}), at_least_seconds=60),
        # Retention (off unless configured): hourly, idempotent, cheap when nothing is due.
        Periodic(
            retention_job, minute=frozenset({17}), second=frozenset({50}), at_least_seconds=900
        ),
        # Webhooks: every 5 s, each subscription in event order; the log's retention hourly.
        Periodic(
            deliver_webhooks, second=_EVERY_5_SECONDS, run_at_startup=True, timeout_seconds=180
        ),
        Periodic(
            purge_events_job, minute=frozenset({23}), second=frozenset({45}), at_least_seconds=300
        ),
        # Incidents: bursts grouped, new members joining open ones; every 5 minutes.
        Periodic(
            detect_incidents_job,
            minute=frozenset(range(2, 60, 5)),
            second=frozenset({55}),
            run_at_startup=True,
            at_least_seconds=120,
        ),
        # Triage: snooze wake-ups, drifting priorities, stale viewers, orphaned bulk jobs.
        Periodic(
            triage_sweep_task,
            second=frozenset({5, 35}),
            run_at_startup=True,
            at_least_seconds=60,
        ),
    ),
)
