"""Standard Webhooks signatures and `whsec_` secrets, which are stored encrypted.

`webhook-signature` is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the
secret's base64-decoded bytes; during a rotation both secrets sign, space-separated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretUnreadable(ValueError):
    """A stored secret cannot be decrypted (the secret key changed)."""


def new_secret() -> str:
    """A fresh `whsec_<base64 of 32 random bytes>`."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` for one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret given."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
    }


def _fernet(key: bytes) -> Fernet:
    # A key of its own, derived from the secret key: never the one credentials use.
    derived = hashlib.sha256(b"luister/webhooks/v1\x00" + key).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str, *, key: bytes) -> str:
    """The secret as stored."""
    return _fernet(key).encrypt(secret.encode()).decode()


def unseal(token: str, *, key: bytes) -> str:
    """The secret from its stored form."""
    try:
        return _fernet(key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "cannot decrypt a webhook secret; was LUISTER_SECRET_KEY changed?"
        ) from exc
