"""GET /api/v1/openapi.json: the OpenAPI 3.1 document, generated from the route table."""

from __future__ import annotations

from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.api.spec import api_spec
from core.dashboard.base_url import base_url


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)

    @spec.route(app, "GET", "/api/v1/openapi.json", permission="public", tag="meta",
                summary="This OpenAPI document",
                response={"type": "object", "description": "An OpenAPI 3.1 document."})
    def openapi_document() -> Any:
        # Built per request: endpoints registered later (plugins) appear too; it is a few ms.
        return spec.document(base_url(ctx))
