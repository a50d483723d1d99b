"""/api/v1/sites: list, add, read, change and delete tracked sites with their tracking settings."""

from __future__ import annotations

from typing import Any

import bottle
import peewee

from core import accounts, sites
from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.api.common import TIME_SCHEMA, iso, json_object_body
from core.dashboard.api.spec import ValidationFailed, api_spec
from core.dashboard.site_input import NAME_MAX, validate_site_input
from core.i18n import _
from core.models import Site
from core.web import ApiError, json_response


def _setting_schema(spec: sites.TrackingSetting) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": spec.label + (f" — {spec.help}" if spec.help else ""),
                              "default": spec.default}
    if spec.kind == "bool":
        schema["type"] = "boolean"
    elif spec.kind == "int":
        schema["type"] = "integer"
        if spec.minimum is not None:
            schema["minimum"] = spec.minimum
        if spec.maximum is not None:
            schema["maximum"] = spec.maximum
    elif spec.kind == "list":
        schema.update(type="array", items={"type": "string", "maxLength": 200}, maxItems=200)
    else:
        schema.update(type="string", maxLength=spec.max_length)
    return schema


SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {s.key: _setting_schema(s) for s in sites.TRACKING_SETTINGS},
}
SITE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "domain", "name", "timezone", "created_at", "settings"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "domain": {"type": "string"},
        "name": {"type": "string"},
        "timezone": {"type": "string"},
        "created_at": TIME_SCHEMA,
        "settings": {"$ref": "#/components/schemas/TrackingSettings"},
    },
}
_INPUT_PROPERTIES: dict[str, Any] = {
    "domain": {"type": "string", "description": "Host name; a URL is reduced to its host.",
               "examples": ["example.com"]},
    "name": {"type": "string", "maxLength": NAME_MAX, "description": "Empty: the domain."},
    "timezone": {"type": "string", "description": "IANA name, e.g. Europe/Berlin.", "default": "UTC"},
    "settings": {"$ref": "#/components/schemas/TrackingSettings",
                 "description": "Only the settings to change; the rest keep their values."},
}
SITE_CREATE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["domain"], "additionalProperties": False, "properties": _INPUT_PROPERTIES,
}
SITE_UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "properties": _INPUT_PROPERTIES,
}


def site_json(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "domain": site.domain,
        "name": site.name,
        "timezone": site.timezone,
        "created_at": iso(site.created_at),
        "settings": sites.tracking_settings(site),
    }


def _validated(body: dict[str, Any], site: Site | None) -> dict[str, Any]:
    clean, errors = validate_site_input(body, site=site)
    if errors:
        # Name the first field in the order a person reads the request.
        order = ["domain", "name", "timezone"]
        name = min(errors, key=lambda f: (order.index(f) if f in order else len(order), f))
        raise ValidationFailed(name, errors[name])
    return clean


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    spec.schema("TrackingSettings", SETTINGS_SCHEMA)
    site_ref = spec.schema("Site", SITE_SCHEMA)
    site_list = spec.schema("SiteList", {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": site_ref}},
    })
    db = ctx.database.db

    @spec.route(app, "GET", "/api/v1/sites", permission="view", tag="sites", response=site_list,
                summary="Sites this user may see")
    def list_sites() -> Any:
        return {"items": [site_json(site) for site in accounts.visible_sites(current_user())]}

    @spec.route(app, "POST", "/api/v1/sites", permission="manage_sites", tag="sites", status=201,
                response=site_ref, request=spec.schema("SiteCreate", SITE_CREATE_SCHEMA),
                summary="Add a site", description="`{\"domain\": \"example.com\"}` is enough.")
    def create_site() -> Any:
        clean = _validated(json_object_body(), None)
        try:
            with db.atomic():
                site = sites.create_site(clean["domain"], clean.get("name", ""), clean.get("timezone", "UTC"))
                if clean.get("settings"):
                    sites.update_site(site, settings=clean["settings"])
        except (sites.SiteError, peewee.IntegrityError):  # the same domain added a moment ago
            raise ValidationFailed("domain", _("A site with the domain {domain} already exists.").format(
                domain=clean["domain"])) from None
        return json_response(site_json(site), 201, headers={"Location": f"/api/v1/sites/{site.id}"})

    @spec.route(app, "GET", "/api/v1/sites/{site_id}", permission="view", tag="sites", response=site_ref,
                summary="One site with its tracking settings")
    def get_site(site_id: int) -> Any:
        return site_json(_site(site_id))

    @spec.route(app, "PATCH", "/api/v1/sites/{site_id}", permission="manage_sites", tag="sites",
                response=site_ref, request=spec.schema("SiteUpdate", SITE_UPDATE_SCHEMA),
                summary="Change a site's domain, name, time zone or tracking settings")
    def patch_site(site_id: int) -> Any:
        site = _site(site_id)
        clean = _validated(json_object_body(), site)
        try:
            with db.atomic():
                sites.update_site(site, **clean)
        except (sites.SiteError, peewee.IntegrityError):
            raise ValidationFailed("domain", _("A site with the domain {domain} already exists.").format(
                domain=clean.get("domain", site.domain))) from None
        return site_json(site)

    @spec.route(app, "DELETE", "/api/v1/sites/{site_id}", permission="manage_sites", tag="sites",
                status=204, summary="Delete a site and everything recorded for it")
    def delete_site(site_id: int) -> Any:
        with db.atomic():
            _site(site_id).delete_instance()
        return None


def _site(site_id: int) -> Site:
    site = Site.get_or_none(Site.id == site_id)
    if site is None:
        raise ApiError(404, "not_found", _("No such site."))
    return site

