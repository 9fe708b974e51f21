"""What the NLP API sends and accepts: corrections, the topic taxonomy, trained models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from listener.models import Mention, NlpCorrection, NlpModel, Topic
from listener.rest.patch import PatchModel

SentimentLabel = Literal["positive", "neutral", "negative"]
Intent = Literal["question", "complaint", "praise", "help_request", "spam"]
TopicName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LanguageKey = Annotated[str, StringConstraints(to_lower=True, pattern=r"^([a-zA-Z]{2}|\*)$")]
Keywords = Annotated[
    dict[LanguageKey, Annotated[list[Phrase], Field(max_length=500)]],
    Field(
        description='Phrases per ISO 639-1 language ("*": every language), matched '
        "case-insensitively on words and light lemmas",
        examples=[{"en": ["delivery", "parcel"], "nl": ["bezorging", "pakket"], "*": ["postnl"]}],
    ),
]
LabelLanguage = Annotated[str, StringConstraints(to_lower=True, pattern=r"^[a-zA-Z]{2}$")]
Labels = Annotated[
    dict[LabelLanguage, TopicName],
    Field(
        max_length=50,
        description="The name people read, per ISO 639-1 language (digest, desk, templates); "
        "without one for their language they read the English label, the description, or "
        "the name with spaces",
        examples=[{"en": "Delivery and shipping", "nl": "Bezorging en verzending"}],
    ),
]


class SentimentCorrectionIn(BaseModel):
    """The sentiment the mention really expresses."""

    model_config = ConfigDict(extra="forbid")

    field: Literal["sentiment"]
    label: SentimentLabel


class IntentsCorrectionIn(BaseModel):
    """The mention's intents, all of them (an empty list: none)."""

    model_config = ConfigDict(extra="forbid")

    field: Literal["intents"]
    intents: list[Intent] = Field(max_length=5)


class TopicsCorrectionIn(BaseModel):
    """The taxonomy topics the mention is about, all of them (an empty list: none)."""

    model_config = ConfigDict(extra="forbid")

    field: Literal["topics"]
    topics: list[TopicName] = Field(max_length=100)


CorrectionIn = Annotated[
    SentimentCorrectionIn | IntentsCorrectionIn | TopicsCorrectionIn,
    Field(
        discriminator="field",
        examples=[
            {"field": "sentiment", "label": "negative"},
            {"field": "intents", "intents": ["question", "complaint"]},
            {"field": "topics", "topics": ["delivery"]},
        ],
    ),
]


def correction_value(body: SentimentCorrectionIn | IntentsCorrectionIn | TopicsCorrectionIn) -> Any:
    """The corrected value as the service takes it."""
    if isinstance(body, SentimentCorrectionIn):
        return body.label
    if isinstance(body, IntentsCorrectionIn):
        return list(body.intents)
    return list(body.topics)


class CorrectionOut(BaseModel):
    """One correction, with what the model had said."""

    id: int
    mention_id: int
    field: str
    model_value: Any = Field(description="The model's output this corrects")
    value: Any = Field(description="The correction (sentiment: label and score)")
    model_version: str | None = Field(description="The tagger version behind model_value")
    language: str | None
    user_id: int | None
    actor: str
    created_at: datetime

    @classmethod
    def of(cls, correction: NlpCorrection) -> CorrectionOut:
        """Build from the table row."""
        return cls(
            id=correction.id,
            mention_id=correction.mention_id,
            field=correction.field,
            model_value=correction.model_value,
            value=correction.value,
            model_version=correction.model_version,
            language=correction.language,
            user_id=correction.user_id,
            actor=correction.actor,
            created_at=correction.created_at,
        )


class MentionTagsOut(BaseModel):
    """What the mention shows now, corrections included."""

    language: str | None
    sentiment_label: str | None
    sentiment_score: float | None
    intents: list[str]
    topics: list[str]

    @classmethod
    def of(cls, mention: Mention, topics: list[str]) -> MentionTagsOut:
        """Build from the row and its topic names."""
        return cls(
            language=mention.language,
            sentiment_label=mention.sentiment_label,
            sentiment_score=mention.sentiment_score,
            intents=list(mention.intents or []),
            topics=topics,
        )


class CorrectionCreated(BaseModel):
    """The recorded correction and the mention's tags after it."""

    correction: CorrectionOut
    mention: MentionTagsOut


class TopicIn(BaseModel):
    """A topic of the organisation's taxonomy."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "delivery",
                    "description": "Delivery and shipping",
                    "keywords": {"en": ["delivery", "parcel"], "nl": ["bezorging", "pakket"]},
                    "labels": {"en": "Delivery and shipping", "nl": "Bezorging en verzending"},
                }
            ]
        },
    )

    name: TopicName
    description: str | None = Field(default=None, max_length=2000)
    keywords: Keywords = Field(default_factory=dict)
    labels: Labels = Field(default_factory=dict)


class TopicUpdate(PatchModel):
    """Changes to a topic: only the fields sent change (keywords are replaced as a whole).

    Null clears the description; a name, keywords or labels cannot be null (labels are
    replaced as a whole).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "billing", "description": "Invoices, refunds and payment problems"}
            ]
        }
    )

    clearable = frozenset({"description"})

    name: TopicName | None = None
    description: str | None = Field(default=None, max_length=2000)
    keywords: Keywords | None = None
    labels: Labels | None = None


class TopicOut(BaseModel):
    """A topic and its phrases per language."""

    id: int
    name: str
    description: str | None
    keywords: dict[str, Any]
    labels: dict[str, str]
    created_at: datetime

    @classmethod
    def of(cls, topic: Topic) -> TopicOut:
        """Build from the table row."""
        return cls(
            id=topic.id,
            name=topic.name,
            description=topic.description,
            keywords=dict(topic.keywords or {}),
            labels=dict(topic.labels or {}),
            created_at=topic.created_at,
        )


class ModelOut(BaseModel):
    """A trained sentiment model and how it scored against the lexicon on held-out corrections."""

    id: int
    language: str
    version: str
    active: bool
    train_size: int
    heldout_size: int
    macro_f1: float
    accuracy: float
    lexicon_macro_f1: float
    lexicon_accuracy: float
    scores: dict[str, Any] = Field(description="Full reports: confusion matrices, per-label F1")
    created_by: str
    created_at: datetime
    activated_at: datetime | None

    @classmethod
    def of(cls, model: NlpModel) -> ModelOut:
        """Build from the table row."""
        return cls(
            id=model.id,
            language=model.language,
            version=model.version,
            active=model.active,
            train_size=model.train_size,
            heldout_size=model.heldout_size,
            macro_f1=model.macro_f1,
            accuracy=model.accuracy,
            lexicon_macro_f1=model.lexicon_macro_f1,
            lexicon_accuracy=model.lexicon_accuracy,
            scores=dict(model.scores or {}),
            created_by=model.created_by,
            created_at=model.created_at,
            activated_at=model.activated_at,
        )
