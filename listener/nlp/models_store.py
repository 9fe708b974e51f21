"""Trained sentiment models in the database: their scores, and which one each language uses."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import AuditEntry, NlpModel, utcnow
from listener.nlp.errors import Conflict, NotFound
from listener.nlp.store import model_files_present

if TYPE_CHECKING:
    from listener.nlp.train import TrainingOutcome

VERSION_NUMBER = re.compile(r":v(\d+)$")


async def list_models(session: AsyncSession, *, language: str | None = None) -> list[NlpModel]:
    """Every trained model (optionally of one language), newest first."""
    query = select(NlpModel).order_by(NlpModel.created_at.desc(), NlpModel.id.desc())
    if language:
        query = query.where(NlpModel.language == language)
    return list((await session.execute(query)).scalars())


async def get_model(session: AsyncSession, *, model_id: int) -> NlpModel:
    """One trained model, or NotFound."""
    model = await session.get(NlpModel, model_id, populate_existing=True)
    if model is None:
        raise NotFound(f"model {model_id} does not exist")
    return model


async def active_model(session: AsyncSession, *, language: str) -> NlpModel | None:
    """The model a language's sentiment uses now (None: the lexicon)."""
    query = select(NlpModel).where(NlpModel.language == language, NlpModel.active.is_(True))
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def next_version_number(session: AsyncSession, *, language: str) -> int:
    """One past the highest version number this database knows for a language."""
    versions = await session.execute(select(NlpModel.version).where(NlpModel.language == language))
    numbers = [int(m.group(1)) for v in versions.scalars() if (m := VERSION_NUMBER.search(v))]
    return max(numbers, default=0) + 1


def _audit(
    session: AsyncSession,
    model: NlpModel,
    *,
    action: str,
    actor: str,
    user_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.add(
        AuditEntry(
            entity="nlp_model",
            entity_id=str(model.id),
            action=action,
            actor_user_id=user_id,
            actor=actor,
            before=before,
            after=after,
        )
    )


async def record_model(
    session: AsyncSession,
    *,
    outcome: TrainingOutcome,
    scores: dict[str, Any],
    activate: bool,
    actor: str,
) -> NlpModel:
    """Keep a trained model and its scores; make it the language's model when `activate`."""
    model = NlpModel(
        language=outcome.language,
        version=outcome.model_version,
        path=outcome.path,
        train_size=outcome.train_size,
        heldout_size=outcome.heldout_size,
        macro_f1=outcome.trained["macro_f1"],
        accuracy=outcome.trained["accuracy"],
        lexicon_macro_f1=outcome.lexicon["macro_f1"],
        lexicon_accuracy=outcome.lexicon["accuracy"],
        scores=scores,
        active=False,
        created_by=actor,
    )
    session.add(model)
    await session.flush()
    _audit(
        session,
        model,
        action="nlp.model.train",
        actor=actor,
        user_id=None,
        before=None,
        after={"version": model.version, "macro_f1": model.macro_f1},
    )
    if activate:
        await activate_model(session, model_id=model.id, actor=actor, user_id=None)
    return model


async def activate_model(
    session: AsyncSession, *, model_id: int, actor: str, user_id: int | None
) -> NlpModel:
    """Make this model its language's sentiment model (the previous one steps down)."""
    model = await get_model(session, model_id=model_id)
    if model.active:
        raise Conflict(f"{model.version} is already active")
    if not model_files_present(model.path):
        raise Conflict(f"{model.version}: its files are missing at {model.path}")
    previous = await active_model(session, language=model.language)
    await session.execute(
        update(NlpModel)
        .where(NlpModel.language == model.language, NlpModel.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    model.active = True
    model.activated_at = utcnow()
    await session.flush()
    _audit(
        session,
        model,
        action="nlp.model.activate",
        actor=actor,
        user_id=user_id,
        before={"active": previous.version if previous else "lexicon"},
        after={"active": model.version},
    )
    return await get_model(session, model_id=model.id)


async def deactivate_model(
    session: AsyncSession, *, model_id: int, actor: str, user_id: int | None
) -> NlpModel:
    """Stop using this model: its language goes back to the lexicon."""
    model = await get_model(session, model_id=model_id)
    if not model.active:
        raise Conflict(f"{model.version} is not active")
    model.active = False
    await session.flush()
    _audit(
        session,
        model,
        action="nlp.model.deactivate",
        actor=actor,
        user_id=user_id,
        before={"active": model.version},
        after={"active": "lexicon"},
    )
    return model
