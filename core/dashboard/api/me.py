"""GET /api/v1/me: who the request is authenticated as, and what that user may do."""

from __future__ import annotations

from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.api.common import NULLABLE_TIME_SCHEMA, TIME_SCHEMA, iso
from core.dashboard.api.spec import api_spec
from core.permissions import ALL_SITES_LEVEL, PERMISSIONS, allows, level_name

ME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "username", "level", "level_name", "all_sites", "permissions", "created_at",
                 "last_login_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "level": {"type": "integer", "minimum": 0, "maximum": 5},
        "level_name": {"type": "string"},
        "all_sites": {"type": "boolean", "description": "True when the user sees every site."},
        "permissions": {"type": "array", "items": {"type": "string", "enum": sorted(PERMISSIONS)}},
        "created_at": TIME_SCHEMA,
        "last_login_at": NULLABLE_TIME_SCHEMA,
    },
}


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)

    @spec.route(app, "GET", "/api/v1/me", permission="login", tag="account",
                summary="The authenticated user", response=spec.schema("Me", ME_SCHEMA))
    def me() -> Any:
        user = current_user()
        return {
            "id": user.id,
            "username": user.username,
            "level": user.level,
            "level_name": level_name(user.level),
            "all_sites": user.level >= ALL_SITES_LEVEL,
            "permissions": sorted(p for p in PERMISSIONS if allows(user.level, p)),
            "created_at": iso(user.created_at),
            "last_login_at": iso(user.last_login_at),
        }
