"""What the share-of-voice API sends and accepts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from listener.models import VoiceSubject
from listener.query import MAX_QUERY_LENGTH
from listener.rest.patch import PatchModel
from moderation.queue.voice import ShareOfVoice, Voice

Kind = Literal["brand", "competitor", "product"]
_NAME = Field(min_length=1, max_length=100, examples=["Velomax"])
_QUERY = Field(
    min_length=1,
    max_length=MAX_QUERY_LENGTH,
    description="A query (docs/QUERY.md) selecting the subject's mentions",
    examples=['velomax OR "velo max" -vacature'],
)


class SubjectIn(BaseModel):
    """A subject to compare: our brand, a competitor or a product line."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Velomax", "query": "velomax OR velo-max", "kind": "competitor"}]
        },
    )

    name: str = _NAME
    query: str = _QUERY
    kind: Kind = "competitor"


class SubjectPatch(PatchModel):
    """Changes to a subject; fields left out stay."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"query": "velomax*"}]})

    name: str | None = Field(default=None, min_length=1, max_length=100)
    query: str | None = Field(default=None, min_length=1, max_length=MAX_QUERY_LENGTH)
    kind: Kind | None = None


class SubjectOut(BaseModel):
    """A subject."""

    id: int
    name: str
    query: str
    kind: str
    created_at: datetime

    @classmethod
    def of(cls, subject: VoiceSubject) -> SubjectOut:
        """Build from the row."""
        return cls(
            id=subject.id,
            name=subject.name,
            query=subject.query,
            kind=subject.kind,
            created_at=subject.created_at,
        )


class VoiceOut(BaseModel):
    """One subject's numbers in a bucket or over the range."""

    name: str
    mentions: int
    positive: int
    neutral: int
    negative: int
    net_sentiment: float | None = Field(
        description="(positive - negative) / labelled mentions; null when none is labelled"
    )
    reach: int = Field(description="Followers of the distinct authors (unknown counts as 0)")
    share: float = Field(description="Mentions over all subjects' mentions, 0 to 1")
    reach_share: float = Field(description="Reach over all subjects' reach, 0 to 1")

    @classmethod
    def of(cls, voice: Voice) -> VoiceOut:
        """Build from the computed numbers."""
        return cls(
            name=voice.name,
            mentions=voice.mentions,
            positive=voice.positive,
            neutral=voice.neutral,
            negative=voice.negative,
            net_sentiment=voice.net_sentiment,
            reach=voice.reach,
            share=voice.share,
            reach_share=voice.reach_share,
        )


class BucketOut(BaseModel):
    """One day or week (its first day, UTC) and each subject's numbers in it."""

    start: date
    subjects: list[VoiceOut]


class ShareOfVoiceOut(BaseModel):
    """Share of voice over a range: totals per subject, and per day or week."""

    period: Literal["day", "week"]
    since: datetime
    until: datetime
    subjects: list[SubjectOut]
    totals: list[VoiceOut]
    buckets: list[BucketOut]

    @classmethod
    def of(cls, found: ShareOfVoice) -> ShareOfVoiceOut:
        """Build from the computed comparison."""
        return cls(
            period=found.period,
            since=found.since,
            until=found.until,
            subjects=[SubjectOut.of(s) for s in found.subjects],
            totals=[VoiceOut.of(v) for v in found.totals],
            buckets=[
                BucketOut(start=b.start, subjects=[VoiceOut.of(v) for v in b.subjects])
                for b in found.buckets
            ],
        )
