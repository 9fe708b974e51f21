"""All tables; importing this package registers every model on `Base.metadata`."""

from listener.models.accounts import ROLE_SCOPES, ApiToken, Role, Scope, User
from listener.models.base import Base, utcnow
from listener.models.mentions import Author, Mention, MentionTopic, Topic
from listener.models.quarantine import QuarantinedItem
from listener.models.queue import AuditEntry, Note, QueueItem, Status
from listener.models.sources import Source

__all__ = [
    "ROLE_SCOPES",
    "ApiToken",
    "AuditEntry",
    "Author",
    "Base",
    "Mention",
    "MentionTopic",
    "Note",
    "QuarantinedItem",
    "QueueItem",
    "Role",
    "Scope",
    "Source",
    "Status",
    "Topic",
    "User",
    "utcnow",
]
