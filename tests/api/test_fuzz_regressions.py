"""Server errors the OpenAPI fuzzer found, fixed, and kept fixed on both databases."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Question, Role
from tests.conftest import MakeStaff


async def test_a_question_to_a_source_that_does_not_exist_is_a_bad_request(
    client: httpx.AsyncClient, make_staff: MakeStaff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mod = await make_staff(Role.MODERATOR)
    answer = await client.post(
        "/api/v1/questions",
        json={"body": "Which routes should we light first?", "source_id": 24943},
        headers=mod.headers,
    )

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "source_id" in answer.json()["detail"]
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Question))).scalar() == 0


async def test_every_problem_is_declared_as_problem_json(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, declared in operation["responses"].items():
                if int(status) >= 400:
                    content = declared.get("content", {})
                    where = f"{method.upper()} {path} {status}"
                    assert content.get("application/problem+json", {}).get("schema") == problem, (
                        where
                    )
