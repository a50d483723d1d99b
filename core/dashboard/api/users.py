"""/api/v1/users: dashboard users, their levels and granted sites (admins; root for root users)."""

from __future__ import annotations

from typing import Any

import bottle
import peewee

from core import accounts
from core.accounts import AccountError
from core.context import AppContext
from core.dashboard import user_rules
from core.dashboard.access import current_user
from core.dashboard.api.common import NULLABLE_TIME_SCHEMA, TIME_SCHEMA, iso, json_object_body
from core.dashboard.api.spec import ValidationFailed, api_spec
from core.i18n import _
from core.models import Site, SiteAccess, User
from core.passwords import password_problem
from core.permissions import ALL_SITES_LEVEL, LEVEL_NAMES, level_name
from core.web import ApiError, json_response

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "username", "level", "level_name", "sites", "created_at", "last_login_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "level": {"type": "integer", "minimum": 0, "maximum": 5},
        "level_name": {"type": "string"},
        "sites": {"type": ["array", "null"], "items": {"type": "integer"},
                  "description": "Granted site ids; null for levels that see every site."},
        "created_at": TIME_SCHEMA,
        "last_login_at": NULLABLE_TIME_SCHEMA,
    },
}
_FIELDS: dict[str, Any] = {
    "username": {"type": "string", "pattern": "^[A-Za-z0-9_.@-]{1,64}$"},
    "password": {"type": "string", "minLength": 8, "maxLength": 1024,
                 "description": "Setting it ends the user's logins."},
    "level": {"type": "integer", "minimum": 0, "maximum": 5},
    "sites": {"type": "array", "items": {"type": "integer"},
              "description": "Granted site ids (ignored for levels 4 and 5, which see every site)."},
}
USER_CREATE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["username", "password"], "additionalProperties": False,
    "properties": _FIELDS,
}
USER_UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {k: v for k, v in _FIELDS.items() if k != "username"},
}


def user_json(user: User, grants: dict[int, list[int]] | None = None) -> dict[str, Any]:
    if user.level >= ALL_SITES_LEVEL:
        sites: list[int] | None = None
    elif grants is not None:
        sites = grants.get(user.id, [])
    else:
        sites = sorted(a.site_id for a in SiteAccess.select(SiteAccess.site).where(SiteAccess.user == user))
    return {
        "id": user.id,
        "username": user.username,
        "level": user.level,
        "level_name": level_name(user.level),
        "sites": sites,
        "created_at": iso(user.created_at),
        "last_login_at": iso(user.last_login_at),
    }


def _level(body: dict[str, Any], default: int | None) -> int:
    value = body.get("level", default)
    if isinstance(value, bool) or not isinstance(value, int) or value not in LEVEL_NAMES:
        raise ValidationFailed("level", _("Access level must be between 0 and 5."))
    return value


def _site_ids(body: dict[str, Any], default: list[int]) -> list[int]:
    value = body.get("sites", default)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationFailed("sites", _("Sites must be a list of site ids."))
    ids = sorted(set(value))
    known = {s.id for s in Site.select(Site.id).where(Site.id.in_(ids))} if ids else set()
    unknown = set(ids) - known
    if unknown:
        raise ValidationFailed("sites", _("Unknown site id: {ids}").format(ids=", ".join(map(str, sorted(unknown)))))
    return ids


def _password(body: dict[str, Any]) -> str:
    value = body.get("password")
    if not isinstance(value, str):
        raise ValidationFailed("password", _("The password must be text."))
    problem = password_problem(value)
    if problem:
        raise ValidationFailed("password", _(problem))
    return value


def _check_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise ValidationFailed(key, _("Unknown field: {name}").format(name=key))


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    user_ref = spec.schema("User", USER_SCHEMA)
    user_list = spec.schema("UserList", {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": user_ref}},
    })
    db = ctx.database.db

    def target(user_id: int) -> User:
        user = User.get_or_none(User.id == user_id)
        if user is None:
            raise ApiError(404, "not_found", _("No such user."))
        return user

    @spec.route(app, "GET", "/api/v1/users", permission="manage_users", tag="users", response=user_list,
                summary="Dashboard users with their levels and granted sites")
    def list_users() -> Any:
        grants: dict[int, list[int]] = {}
        for row in SiteAccess.select(SiteAccess.user, SiteAccess.site).order_by(SiteAccess.site).tuples():
            grants.setdefault(row[0], []).append(row[1])
        return {"items": [user_json(u, grants) for u in User.select().order_by(User.username)]}

    @spec.route(app, "POST", "/api/v1/users", permission="manage_users", tag="users", status=201,
                response=user_ref, request=spec.schema("UserCreate", USER_CREATE_SCHEMA),
                summary="Create a user", description="Only root may create root users (level 5).")
    def create_user() -> Any:
        body = json_object_body()
        _check_fields(body, ("username", "password", "level", "sites"))
        username = body.get("username")
        if not isinstance(username, str):
            raise ValidationFailed("username", _("User name must be 1-64 letters, digits or . _ @ - characters."))
        try:
            username = accounts.validate_username(username)
        except AccountError as exc:
            raise ValidationFailed("username", str(exc)) from None
        password = _password(body)
        level = _level(body, 0)
        site_ids = _site_ids(body, [])
        try:
            with db.atomic():
                user = user_rules.create_user(current_user(), username, password, level, site_ids)
        except user_rules.NotAllowed as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        except (AccountError, peewee.IntegrityError):  # the name is taken
            raise ValidationFailed("username", _("A user with that name already exists.")) from None
        return json_response(user_json(user), 201, headers={"Location": f"/api/v1/users/{user.id}"})

    @spec.route(app, "GET", "/api/v1/users/{user_id}", permission="manage_users", tag="users",
                response=user_ref, summary="One user")
    def get_user(user_id: int) -> Any:
        return user_json(target(user_id))

    @spec.route(app, "PATCH", "/api/v1/users/{user_id}", permission="manage_users", tag="users",
                response=user_ref, request=spec.schema("UserUpdate", USER_UPDATE_SCHEMA),
                summary="Change a user's level, granted sites or password",
                description="Admins cannot change root users; nobody lowers their own level; the last root stays.")
    def patch_user(user_id: int) -> Any:
        user = target(user_id)
        actor = current_user()
        body = json_object_body()
        _check_fields(body, ("level", "sites", "password"))
        current_sites = [a.site_id for a in SiteAccess.select(SiteAccess.site).where(SiteAccess.user == user)]
        level = _level(body, user.level)
        site_ids = _site_ids(body, current_sites)
        password = _password(body) if "password" in body else None
        with db.atomic():  # a refused password change also undoes the level change
            if "level" in body or "sites" in body:
                try:
                    user_rules.update_user(actor, user, level, site_ids)
                except user_rules.NotAllowed as exc:
                    raise ApiError(403, "forbidden", str(exc)) from None
                except AccountError as exc:
                    raise ValidationFailed("level", str(exc)) from None
            if password is not None:
                try:
                    user_rules.reset_password(actor, user, password)
                except user_rules.NotAllowed as exc:
                    raise ApiError(403, "forbidden", str(exc)) from None
                except AccountError as exc:
                    raise ValidationFailed("password", str(exc)) from None
        return user_json(User.get_by_id(user.id))

    @spec.route(app, "DELETE", "/api/v1/users/{user_id}", permission="manage_users", tag="users", status=204,
                summary="Delete a user (their logins and API tokens end)", errors=(422,),
                description="422 (`field`: user_id) for yourself and for the last root user.")
    def delete_user(user_id: int) -> Any:
        try:
            with db.atomic():
                user_rules.delete_user(current_user(), target(user_id))
        except user_rules.NotAllowed as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        except AccountError as exc:
            raise ValidationFailed("user_id", str(exc)) from None
        return None
