"""All tables; importing this package registers every model on `Base.metadata`."""

from listener.models.accounts import ROLE_SCOPES, ApiToken, Role, Scope, User
from listener.models.audit_chain import AuditChain
from listener.models.base import Base, utcnow
from listener.models.digest import (
    Alert,
    Delivery,
    DeliveryStatus,
    Digest,
    RecipientList,
)
from listener.models.events import IntegrationEvent, WebhookDelivery, WebhookSubscription
from listener.models.holds import EvidenceAccess, LegalHold, MentionEvidence
from listener.models.idempotency import IdempotencyKey
from listener.models.incidents import Incident, IncidentMember, IncidentStatus
from listener.models.mentions import Author, Mention, MentionTopic, Topic
from listener.models.nlp import CORRECTABLE_FIELDS, NlpCorrection, NlpModel
from listener.models.outbox import (
    Appreciation,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Question,
    QuestionAnswer,
    ReplyTemplate,
    Response,
)
from listener.models.own_accounts import Checkpoint, OwnAccount
from listener.models.privacy import PrivacySuppression
from listener.models.quarantine import QuarantinedItem
from listener.models.queue import AuditEntry, Note, QueueItem, Status
from listener.models.sources import Source
from listener.models.spam import SpamCopy
from listener.models.triage import (
    UNMANAGED_SCHEMA_NAMES,
    AuthorLink,
    AuthorNote,
    BulkJob,
    BulkJobItem,
    MentionTag,
    NoteMention,
    Presence,
    SavedView,
    Tag,
)
from listener.models.voice import SUBJECT_KINDS, VoiceSubject

__all__ = [
    "CORRECTABLE_FIELDS",
    "ROLE_SCOPES",
    "SUBJECT_KINDS",
    "UNMANAGED_SCHEMA_NAMES",
    "Alert",
    "ApiToken",
    "Appreciation",
    "AuditChain",
    "AuditEntry",
    "Author",
    "AuthorLink",
    "AuthorNote",
    "Base",
    "BulkJob",
    "BulkJobItem",
    "Checkpoint",
    "Delivery",
    "DeliveryStatus",
    "Digest",
    "EvidenceAccess",
    "IdempotencyKey",
    "Incident",
    "IncidentMember",
    "IncidentStatus",
    "IntegrationEvent",
    "LegalHold",
    "Mention",
    "MentionEvidence",
    "MentionTag",
    "MentionTopic",
    "NlpCorrection",
    "NlpModel",
    "Note",
    "NoteMention",
    "OutboxKind",
    "OutboxMessage",
    "OutboxStatus",
    "OwnAccount",
    "Presence",
    "PrivacySuppression",
    "QuarantinedItem",
    "Question",
    "QuestionAnswer",
    "QueueItem",
    "RecipientList",
    "ReplyTemplate",
    "Response",
    "Role",
    "SavedView",
    "Scope",
    "Source",
    "SpamCopy",
    "Status",
    "Tag",
    "Topic",
    "User",
    "VoiceSubject",
    "WebhookDelivery",
    "WebhookSubscription",
    "utcnow",
]
