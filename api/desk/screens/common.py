"""What every screen shares: its router's defaults."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse


def desk_router() -> APIRouter:
    """A screen's router: HTML answers, kept out of the API's OpenAPI document."""
    return APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
