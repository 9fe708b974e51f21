"""Connector credentials at rest: encrypted with a key derived from the secret, or env refs.

A source's config is stored as the connector's config model dumped to JSON, except that every
`SecretStr` field holds either `{"$enc": <Fernet token>}` or `{"$env": "VARIABLE"}`. The API and
CLI only ever show such fields masked.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, SecretStr

MASK = "********"


class CredentialError(ValueError):
    """A stored credential cannot be read back; the message names the field."""


def _fernet(key: bytes) -> Fernet:
    # A distinct key per purpose: the token HMAC key is never used to encrypt.
    derived = hashlib.sha256(b"luister/credentials/v1\x00" + key).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The config fields that hold credentials."""
    names = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ()):
            names.append(name)
    return names


def seal_config(
    config: BaseModel, *, key: bytes, env_refs: dict[str, str] | None = None
) -> dict[str, Any]:
    """The config as stored: credentials encrypted (or as `$env` references)."""
    stored: dict[str, Any] = config.model_dump(mode="json")
    refs = env_refs or {}
    fernet = _fernet(key)
    for name in secret_fields(type(config)):
        if name in refs:
            stored[name] = {"$env": refs[name]}
            continue
        value = getattr(config, name)
        if value is None:
            stored[name] = None
        else:
            token = fernet.encrypt(value.get_secret_value().encode()).decode()
            stored[name] = {"$enc": token}
    return stored


def open_config(model: type[BaseModel], stored: dict[str, Any], *, key: bytes) -> BaseModel:
    """The config model with credentials decrypted or read from the environment."""
    data = dict(stored)
    fernet = _fernet(key)
    for name in secret_fields(model):
        value = data.get(name)
        if isinstance(value, dict) and "$enc" in value:
            try:
                data[name] = fernet.decrypt(value["$enc"].encode()).decode()
            except InvalidToken as exc:
                raise CredentialError(
                    f"{name}: cannot decrypt; was LUISTER_SECRET_KEY changed?"
                ) from exc
        elif isinstance(value, dict) and "$env" in value:
            if value["$env"] not in os.environ:
                raise CredentialError(f"{name}: environment variable {value['$env']} is not set")
            data[name] = os.environ[value["$env"]]
    return model.model_validate(data)


def masked_config(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored config with every credential replaced by a mask or its env reference."""
    shown: dict[str, Any] = {}
    for name, value in stored.items():
        if isinstance(value, dict) and "$enc" in value:
            shown[name] = MASK
        elif isinstance(value, dict) and "$env" in value:
            shown[name] = f"env:{value['$env']}"
        else:
            shown[name] = value
    return shown
