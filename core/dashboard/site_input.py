"""Validate site input (domain, name, time zone, tracking settings) field by field.

Shared by the settings pages and the REST API so both reject the same things with the same
messages, and both can say which field was wrong.
"""

from __future__ import annotations

import re
from typing import Any

from core import sites
from core.i18n import _
from core.models import Site
from core.sites import SiteError, normalize_domain, parse_tracking_settings, validate_timezone

SITE_FIELDS = ("domain", "name", "timezone", "settings")
NAME_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# JSON types each setting kind accepts from the API (forms send text and are parsed leniently).
_JSON_TYPES: dict[str, tuple[type, ...]] = {"bool": (bool,), "int": (int,), "list": (list,), "str": (str,)}


def validate_site_input(raw: dict[str, Any], *, site: Site | None = None,
                        from_form: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """(clean values, errors by field). `site` is the one being edited (None when adding).

    Only keys present in `raw` are validated, so a PATCH may send one field. Tracking setting
    errors are keyed `settings.<key>`.
    """
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in raw:
        if key not in SITE_FIELDS:
            errors[key] = _("Unknown field: {name}").format(name=key)
    if "domain" in raw:
        value = raw["domain"]
        if not isinstance(value, str) or not value.strip():
            errors["domain"] = _("Enter a domain name such as example.com.")
        else:
            try:
                domain = normalize_domain(value)
            except SiteError as exc:
                errors["domain"] = str(exc)
            else:
                taken = Site.select().where(Site.domain == domain)
                if site is not None:
                    taken = taken.where(Site.id != site.id)
                if taken.exists():
                    errors["domain"] = _("A site with the domain {domain} already exists.").format(domain=domain)
                else:
                    clean["domain"] = domain
    elif site is None:
        errors["domain"] = _("Enter a domain name such as example.com.")
    if "name" in raw:
        value = raw["name"]
        if not isinstance(value, str):
            errors["name"] = _("The name must be text.")
        elif _CONTROL.search(value):
            errors["name"] = _("The name must not contain control characters.")
        elif len(value.strip()) > NAME_MAX:
            errors["name"] = _("The name must be at most {n} characters.").format(n=NAME_MAX)
        else:
            clean["name"] = value.strip()
    if "timezone" in raw:
        value = raw["timezone"]
        if not isinstance(value, str):
            errors["timezone"] = _("Choose a time zone.")
        else:
            try:
                clean["timezone"] = validate_timezone(value)
            except SiteError as exc:
                errors["timezone"] = str(exc)
    if "settings" in raw:
        settings = raw["settings"]
        if not isinstance(settings, dict):
            errors["settings"] = _("Tracking settings must be an object.")
        else:
            parsed: dict[str, Any] = {}
            kinds = {spec.key: spec.kind for spec in sites.TRACKING_SETTINGS}
            for key, value in settings.items():
                kind = kinds.get(str(key))
                if not from_form and kind is not None and not _json_type_ok(kind, value):
                    errors[f"settings.{key}"] = _("Wrong type for the setting {key}: expected {kind}.").format(
                        key=key, kind={"bool": "true/false", "int": "an integer", "list": "a list of strings",
                                       "str": "a string"}[kind])
                    continue
                try:
                    parsed.update(parse_tracking_settings({str(key): value}))
                except SiteError as exc:
                    errors[f"settings.{key}"] = str(exc)
            if from_form:
                # An unticked checkbox is simply absent from a submitted form.
                for spec in sites.TRACKING_SETTINGS:
                    if spec.kind == "bool" and spec.key not in settings:
                        parsed[spec.key] = False
            clean["settings"] = parsed
    return clean, errors


def _json_type_ok(kind: str, value: Any) -> bool:
    if kind == "int" and isinstance(value, bool):
        return False  # JSON true is not 1
    if kind == "list":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, _JSON_TYPES[kind])
