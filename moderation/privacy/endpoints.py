"""A person's rights: erasure and access (admins only)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from listener.rest.deps import Admin, SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.privacy import service
from moderation.privacy.render import HTML_POLICY, render_html
from moderation.privacy.schemas import ErasureOut, PersonDataOut

router = APIRouter(prefix="/api/v1/authors", tags=["privacy"])

_HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}}}


@router.post("/{author_id}/erasure", responses=problem_responses(401, 403, 404))
async def erase_author(
    author_id: IdPath, session: SessionDep, settings: SettingsDep, principal: Admin
) -> ErasureOut:
    """Erase the person on every linked identity; counts stay, words and names go."""
    report = await service.erase_person(
        session,
        author_id=author_id,
        secret=settings.secret_bytes(),
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    return ErasureOut.of(report)


@router.get(
    "/{author_id}/data",
    response_model=PersonDataOut,
    responses={**_HTML, **problem_responses(401, 403, 404)},
)
async def person_data(
    author_id: IdPath,
    session: SessionDep,
    principal: Admin,
    format: Literal["json", "html"] = "json",
) -> Any:
    """Everything held about the person, as JSON or one readable HTML page (the read is audited)."""
    records = await service.person_records(session, author_id=author_id)
    service.record_access(
        session,
        author_id=author_id,
        records=records,
        fmt=format,
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    data = PersonDataOut.of(records)
    if format == "html":
        return HTMLResponse(render_html(data), headers=HTML_POLICY)
    return data
