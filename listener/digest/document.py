"""The digest document: what the builder produces, the renderer reads, the API returns and the
`digests.data` column stores (as `model_dump(mode="json")`).

Field order is the JSON key order, and the JSON of a document is the stored shape: add fields
at the end of a section and give them defaults, so digests stored before still validate.
Timestamps stay ISO 8601 strings as `datetime.isoformat()` wrote them ("+00:00", not "Z").
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from listener.kit.strings import readable_name

SCHEMA_VERSION = 1


class _Section(BaseModel):
    """A part of the document."""

    model_config = ConfigDict(extra="ignore")


def _absent(value: object) -> bool:
    return value is None


def _optional_key() -> Any:
    """A key that is left out of the JSON, rather than written as null, when it has no value."""
    return Field(default=None, exclude_if=_absent)


class PeriodInfo(_Section):
    """The period the digest covers, in the time zone it was built for."""

    label: str
    first_day: str
    last_day: str
    days: int
    is_week: bool
    timezone: str
    start: str
    end: str
    previous_label: str


class TrendPoint(_Section):
    """Mentions in one window: the earlier windows first, the digest's own last."""

    label: str
    count: int


class DayCount(_Section):
    """Mentions on one local day."""

    date: str
    count: int


class SourceCount(_Section):
    """Mentions from one source, against the previous window."""

    source: str
    platform: str
    count: int
    previous: int
    change: float | None


class LanguageCount(_Section):
    """Mentions in one language, against the previous window."""

    language: str
    count: int
    previous: int
    change: float | None


class Volume(_Section):
    """How much was heard, per day, source and language, against last window and the baseline."""

    total: int
    previous: int
    change: float | None
    baseline_mean: float
    change_vs_baseline: float | None
    tagged_by_nlp: int
    trend: list[TrendPoint]
    per_day: list[DayCount]
    by_source: list[SourceCount]
    by_language: list[LanguageCount]


class LabelCounts(_Section):
    """Mentions per sentiment label."""

    positive: int
    neutral: int
    negative: int


class LabelShares(_Section):
    """A number per sentiment label (a share, or a change in points); None when undefined."""

    positive: float | None
    neutral: float | None
    negative: float | None


class DaySentiment(_Section):
    """Mentions per sentiment label on one local day."""

    date: str
    positive: int
    neutral: int
    negative: int
    untagged: int


class Sentiment(_Section):
    """Sentiment shares of the window, the previous one and the baseline."""

    tagged: int
    untagged: int
    counts: LabelCounts
    shares: LabelShares
    previous_shares: LabelShares
    baseline_shares: LabelShares
    mean_score: float | None
    per_day: list[DaySentiment]
    change_points: LabelShares


class MentionCard(_Section):
    """A mention as the digest quotes it."""

    id: int
    url: str | None
    platform: str
    author: str | None
    created_at: str
    text: str
    sentiment: str | None
    engagement: int


class EngagedMention(MentionCard):
    """A mention people reacted to, with its counts."""

    likes: int | None
    reposts: int | None
    replies: int | None


class WaitingQuestion(MentionCard):
    """A question still waiting for the team."""

    status: str
    waiting_hours: float


class TopicStat(_Section):
    """One topic's count against the previous window and the baseline.

    Rising and falling topics carry `examples`; a top topic carries them only when it is also
    one of those (the same entry is listed in both).
    """

    topic: str
    count: int
    previous: int
    baseline_mean: float
    change: float | None
    share: float | None
    examples: list[MentionCard] | None = _optional_key()
    # The topic's label in the digest's language (absent from digests built before labels).
    label: str | None = _optional_key()

    @property
    def shown(self) -> str:
        """What a reader sees: the label, else the key as words."""
        return self.label or readable_name(self.topic)


class Topics(_Section):
    """Top topics and the ones that moved most."""

    mentions_with_topic: int
    top: list[TopicStat]
    rising: list[TopicStat]
    falling: list[TopicStat]


class EmergentTerm(_Section):
    """A hashtag, word or phrase that grew and is not in the taxonomy."""

    term: str
    kind: str
    count: int
    previous: int


class SampleSize(_Section):
    """How many mentions were tokenised per window."""

    current: int
    previous: int


class EmergentTerms(_Section):
    """Terms whose share of mentions at least doubled."""

    terms: list[EmergentTerm]
    sampled: bool
    sample_size: SampleSize
    min_mentions: int


class AuthorFields(_Section):
    """Who an author is."""

    author_id: int
    handle: str | None
    display_name: str | None
    platform: str
    profile_url: str | None
    followers: int | None


class ReachingAuthor(AuthorFields):
    """An author whose mentions reached many followers."""

    mentions: int
    engagement: int
    reach: int


class LoyalAuthor(AuthorFields):
    """An author who keeps coming back."""

    windows_active: int
    mentions: int
    mentions_total: int
    positive: int
    negative: int
    worth_thanking: bool


class Authors(_Section):
    """The widest-reaching and the loyal voices."""

    by_reach: list[ReachingAuthor]
    loyal: list[LoyalAuthor]
    windows: int


class Questions(_Section):
    """Questions asked in the period and the ones still waiting (also from before)."""

    asked: int
    unanswered: int
    unanswered_past_target: int
    unanswered_total: int
    oldest: list[WaitingQuestion]
    status_as_of: str


class ResponseTimes(_Section):
    """Time to first response and the response target."""

    responded: int
    median_seconds: float | None
    p90_seconds: float | None
    # int | float: the target is written as it was given (8, not 8.0).
    target_hours: int | float
    within_target: int
    missed_target: int
    # Posts by our own accounts in the period: our voice, counted here and nowhere else.
    our_posts: int | None = _optional_key()


class Sla(_Section):
    """SLA outcomes where the queue records them; only `available` when it does not."""

    available: bool
    met: int | None = _optional_key()
    missed: int | None = _optional_key()
    waiting_past_due: int | None = _optional_key()
    with_target: int | None = _optional_key()


class PersonActions(_Section):
    """Status changes one person made."""

    actor: str
    actions: int


class Throughput(_Section):
    """Status changes the team made, per new status and per person."""

    actions: int
    by_status: dict[str, int]
    closed: int
    people: int
    by_person: list[PersonActions]


class AlertItem(_Section):
    """A spike alert raised in the period."""

    id: int
    metric: str
    dimension: str
    key: str
    window_start: str
    observed: float
    baseline: float
    count: int


class AlertsSection(_Section):
    """Spike alerts of the period; `available` is false before the alerts table exists."""

    available: bool
    count: int
    items: list[AlertItem]


class IncidentItem(_Section):
    """A burst of similar mentions grouped as one incident (moderation.incidents)."""

    id: int
    title: str
    status: str
    started_at: str
    peak_at: str
    ended_at: str
    mention_count: int
    author_count: int


class IncidentsSection(_Section):
    """Incidents that ran in the period, biggest first (at most 10 listed)."""

    count: int
    items: list[IncidentItem]


class SubjectVoice(_Section):
    """One share-of-voice subject in the period, against the previous one.

    `share` is of all subjects' mentions (a mention naming two subjects counts for both);
    `reach` adds the followers of the subject's distinct authors (unknown counts as 0).
    """

    name: str
    kind: str
    mentions: int
    share: float | None
    positive: int
    neutral: int
    negative: int
    net_sentiment: float | None
    reach: int
    reach_share: float | None
    previous: int
    previous_share: float | None
    change: float | None
    share_change_points: float | None


class ShareOfVoiceSection(_Section):
    """The subjects of share of voice (brand first, then competitors and product lines)."""

    mentions: int
    previous: int
    subjects: list[SubjectVoice]


class Note(_Section):
    """Something the reader should know about missing or estimated numbers."""

    code: str
    params: dict[str, int] = Field(default_factory=dict)
    text: str


class Revision(_Section):
    """The digest was rebuilt because mentions of its period arrived after it was first built."""

    revised_at: str
    late_mentions: int


class DigestDocument(_Section):
    """Every digest section for one period and filter."""

    schema_version: int = Field(alias="schema")
    generated_at: str
    language: str
    period: PeriodInfo
    # topics, sources and languages (lists), and query (a string) when there is one.
    filters: dict[str, list[str] | str]
    quiet: bool
    volume: Volume
    sentiment: Sentiment
    topics: Topics
    emergent_terms: EmergentTerms
    authors: Authors
    engaged: list[EngagedMention]
    questions: Questions
    response: ResponseTimes
    sla: Sla = Field(default_factory=lambda: Sla(available=False))
    throughput: Throughput
    alerts: AlertsSection
    notes: list[Note] = Field(default_factory=list)
    incidents: IncidentsSection | None = _optional_key()
    # Absent when no share-of-voice subject is defined.
    share_of_voice: ShareOfVoiceSection | None = _optional_key()
    revision: Revision | None = _optional_key()

    model_config = ConfigDict(extra="ignore", validate_by_name=True, serialize_by_alias=True)
