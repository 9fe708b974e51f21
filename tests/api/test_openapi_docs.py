"""The published API description: each operation names its scope, every request body has an
example, and `/docs` is served with its own assets (no CDN), all without a token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.http.app import create_app
from listener.settings import Settings
from tests.conftest import TEST_SECRET

SCOPES = {"read", "triage", "admin", "metrics", "any"}
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture
async def anonymous(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app on an unused SQLite file: the docs need no database."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        run_jobs=False,
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://luister.test") as client:
        yield client


@pytest.fixture
async def document(anonymous: httpx.AsyncClient) -> dict[str, Any]:
    response = await anonymous.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_that_needs_a_token_names_its_scope(document: dict[str, Any]) -> None:
    missing, anonymous = [], []
    for method, path, operation in _operations(document):
        if operation.get("security"):
            scope = operation.get("x-required-scope")
            if scope not in SCOPES or "**Auth:**" not in operation.get("description", ""):
                missing.append(f"{method.upper()} {path}")
        else:
            anonymous.append(path)
            assert "x-required-scope" not in operation
    assert not missing, missing
    assert set(anonymous) <= {"/healthz", "/readyz", "/api/v1/auth/login"}, anonymous
    by_path = {(m, p): op for m, p, op in _operations(document)}
    assert by_path[("get", "/api/v1/mentions")]["x-required-scope"] == "read"
    assert by_path[("get", "/api/v1/me/tokens")]["x-required-scope"] == "any"
    assert by_path[("get", "/metrics")]["x-accepted-scopes"] == ["metrics", "admin"]


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "example" in schema or "examples" in schema:
        return True
    if "$ref" in schema:
        return _has_example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf") or []
    return any(_has_example(b, components) for b in branches if b.get("type") != "null")


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    lacking = [
        f"{method.upper()} {path} ({media_type})"
        for method, path, operation in _operations(document)
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items()
        if not ("example" in media or "examples" in media)
        and not _has_example(media.get("schema", {}), components)
    ]
    assert not lacking, lacking


def test_rate_limited_operations_declare_429(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        declared = "429" in operation["responses"]
        assert declared == (path not in {"/healthz", "/readyz"}), (method, path)


async def test_docs_are_served_with_their_own_assets(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/docs")
    assert page.status_code == 200
    html = page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert f'"/docs/assets/{asset}"' in html
        served = await anonymous.get(f"/docs/assets/{asset}")
        assert served.status_code == 200, asset
    assert "cdn" not in html.lower()
    assert "//" not in html.replace("http-equiv", "").split("<script>")[0].replace("<!--", "")
    assert (await anonymous.get("/redoc")).status_code == 404
