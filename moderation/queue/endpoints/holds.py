"""Legal holds on mentions and the evidence they keep (admins only; every evidence read logged)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from listener.models import EvidenceAccess, LegalHold, MentionEvidence
from listener.rest.deps import Admin, SessionDep
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.queue import holds

router = APIRouter(prefix="/api/v1/mentions", tags=["legal holds"])

Reason = Annotated[
    str,
    Query(
        min_length=3,
        max_length=2000,
        description="Why you read the evidence (kept in the access log)",
        examples=["court order 2026/123"],
    ),
]


class HoldIn(BaseModel):
    """Why the mention must be kept should it disappear at its source."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Requested by legal, case 2026-17"}]}
    )

    reason: str = Field(min_length=3, max_length=2000, examples=["Threat against staff, case 12"])


class HoldOut(BaseModel):
    """One legal hold; active while `lifted_at` is null."""

    id: int
    mention_id: int
    reason: str
    placed_by: str
    placed_at: datetime
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None

    @classmethod
    def of(cls, hold: LegalHold) -> HoldOut:
        """From the row."""
        return cls(
            id=hold.id,
            mention_id=hold.mention_id,
            reason=hold.reason,
            placed_by=hold.placed_by,
            placed_at=hold.placed_at,
            lifted_at=hold.lifted_at,
            lifted_by=hold.lifted_by,
            lift_reason=hold.lift_reason,
        )


class EvidenceSummaryOut(BaseModel):
    """An evidence copy without its content."""

    id: int
    hold_id: int | None
    captured_at: datetime
    sha256: str
    purged_at: datetime | None


class HoldStateOut(BaseModel):
    """Whether the mention is held, its holds (newest first) and its evidence copies."""

    mention_id: int
    held: bool
    deleted_at_source: datetime | None
    holds: list[HoldOut]
    evidence: list[EvidenceSummaryOut]


class LiftOut(BaseModel):
    """The holds lifted and how many evidence copies were purged with them."""

    lifted: list[HoldOut]
    evidence_purged: int


class EvidenceItemOut(BaseModel):
    """One evidence copy: `payload` is the canonical JSON whose SHA-256 is `sha256`."""

    id: int
    hold_id: int | None
    captured_at: datetime
    sha256: str
    intact: bool = Field(description="The payload still hashes to `sha256`")
    payload: str
    content: dict[str, Any]


class EvidenceOut(BaseModel):
    """A held mention's evidence, as it was when it disappeared at its source."""

    mention_id: int
    items: list[EvidenceItemOut]


class EvidenceAccessOut(BaseModel):
    """One read of the evidence: who, when, why."""

    id: int
    evidence_id: int | None
    user_id: int | None
    actor: str
    reason: str
    accessed_at: datetime

    @classmethod
    def of(cls, row: EvidenceAccess) -> EvidenceAccessOut:
        """From the row."""
        return cls(
            id=row.id,
            evidence_id=row.evidence_id,
            user_id=row.user_id,
            actor=row.actor,
            reason=row.reason,
            accessed_at=row.accessed_at,
        )


def _summary(copy: MentionEvidence) -> EvidenceSummaryOut:
    return EvidenceSummaryOut(
        id=copy.id,
        hold_id=copy.hold_id,
        captured_at=copy.captured_at,
        sha256=copy.sha256,
        purged_at=copy.purged_at,
    )


def _item(copy: MentionEvidence) -> EvidenceItemOut:
    payload = copy.payload or ""
    return EvidenceItemOut(
        id=copy.id,
        hold_id=copy.hold_id,
        captured_at=copy.captured_at,
        sha256=copy.sha256,
        intact=holds.evidence_intact(copy),
        payload=payload,
        content=json.loads(payload) if payload else {},
    )


@router.post(
    "/{mention_id}/legal-hold",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": HoldOut, "description": "Already held"},
        **problem_responses(401, 403, 404),
    },
)
async def place_legal_hold(
    mention_id: IdPath, body: HoldIn, session: SessionDep, principal: Admin, response: Response
) -> HoldOut:
    """Keep the mention as evidence should it disappear at its source (200: already held)."""
    hold, created = await holds.place_hold(
        session,
        mention_id=mention_id,
        reason=body.reason,
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return HoldOut.of(hold)


@router.delete("/{mention_id}/legal-hold", responses=problem_responses(401, 403, 404))
async def lift_legal_hold(
    mention_id: IdPath,
    session: SessionDep,
    principal: Admin,
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> LiftOut:
    """Lift the hold; evidence kept under it is purged, and the mention's words stay dropped."""
    lifted, purged = await holds.lift_hold(
        session,
        mention_id=mention_id,
        actor=principal.user,
        actor_label=principal.label,
        reason=reason,
    )
    await session.commit()
    return LiftOut(lifted=[HoldOut.of(hold) for hold in lifted], evidence_purged=purged)


@router.get("/{mention_id}/legal-hold", responses=problem_responses(401, 403, 404))
async def legal_hold_state(mention_id: IdPath, session: SessionDep, _: Admin) -> HoldStateOut:
    """The mention's holds and evidence copies, without their content."""
    state = await holds.hold_state(session, mention_id=mention_id)
    return HoldStateOut(
        mention_id=state.mention_id,
        held=state.held,
        deleted_at_source=state.deleted_at_source,
        holds=[HoldOut.of(hold) for hold in state.holds],
        evidence=[_summary(copy) for copy in state.evidence],
    )


@router.get("/{mention_id}/evidence", responses=problem_responses(401, 403, 404, 410, 422))
async def read_evidence(
    mention_id: IdPath, reason: Reason, session: SessionDep, principal: Admin
) -> EvidenceOut:
    """The evidence kept under a legal hold; the read is logged with your reason."""
    copies = await holds.read_evidence(
        session,
        mention_id=mention_id,
        actor=principal.user,
        actor_label=principal.label,
        reason=reason,
    )
    items = [_item(copy) for copy in copies]
    await session.commit()  # the access log is written before anything is shown
    return EvidenceOut(mention_id=mention_id, items=items)


@router.get("/{mention_id}/evidence/access-log", responses=problem_responses(401, 403, 404))
async def evidence_access_log(
    mention_id: IdPath, session: SessionDep, _: Admin
) -> list[EvidenceAccessOut]:
    """Who read the mention's evidence, when and why, newest first."""
    rows = await holds.evidence_access_log(session, mention_id=mention_id)
    return [EvidenceAccessOut.of(row) for row in rows]
