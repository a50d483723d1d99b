"""Validation of goals and A/B tests, shared by the dashboard forms and the REST API (pure).

Everything an A/B test changes runs on visitors' pages, so the rules are an allow-list: new text is
set as text (never parsed as HTML), styles come from a fixed list of properties and their values may
not load anything (`url(`, `expression(`, `javascript:`, CSS escapes), attributes from a fixed list
and links only to http(s) or relative URLs. A broken rule raises `RuleError` naming the field as the
client sent it (`variants[1].changes[0].selector`), so a 422 can point at it.
"""

from __future__ import annotations

import re
from typing import Any

from core.i18n import _
from core.models.experiments import GOAL_KINDS, TEST_STATUSES

NAME_MAX = 100
PATH_MAX = 512
EVENT_MAX = 128
TAG_MAX = 128
SELECTOR_MAX = 512
TEXT_MAX = 2000
STYLE_VALUE_MAX = 200
ATTRIBUTE_VALUE_MAX = 2000
MAX_GOALS = 100  # per site
MAX_TESTS = 50  # per site (every running one is in the site's ab.js)
MAX_VARIANTS = 8
MAX_CHANGES = 30  # per variant
MAX_STYLES = 20  # per change
MAX_ATTRIBUTES = 10  # per change

STYLE_PROPERTIES = frozenset({
    "color", "background-color", "opacity", "visibility", "display",
    "font-size", "font-weight", "font-style", "font-family", "line-height", "letter-spacing",
    "text-align", "text-decoration", "text-transform",
    "width", "height", "min-width", "min-height", "max-width", "max-height",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-color", "border-width", "border-style", "border-radius",
    "box-shadow", "order", "flex-direction", "justify-content", "align-items", "gap",
})
ATTRIBUTES = frozenset({"href", "src", "alt", "title", "placeholder", "aria-label", "class", "target", "rel"})
URL_ATTRIBUTES = frozenset({"href", "src"})
# `url(` loads a resource, `expression(` ran script in old IE, `\` escapes could spell either.
_BAD_STYLE = re.compile(r"url\s*\(|expression\s*\(|javascript:|image-set\s*\(|[\\<>{};@]", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_HTML = re.compile(r"<[A-Za-z/!?]")
_CLASS = re.compile(r"^[A-Za-z0-9_ -]*$")
_TARGET = re.compile(r"^_?[A-Za-z0-9_-]{1,32}$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class RuleError(ValueError):
    """An input broke a rule; `field` names it, the message says why (fit to show)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _str(body: dict[str, Any], key: str, field: str, limit: int, *, required: bool = False,
         default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RuleError(field, _("must be text"))
    value = value.strip()
    if required and not value:
        raise RuleError(field, _("is required"))
    if len(value) > limit:
        raise RuleError(field, _("may be at most {n} characters").format(n=limit))
    if _CONTROL.search(value):
        raise RuleError(field, _("may not contain control characters or line breaks"))
    return value


def path_pattern(value: str, field: str) -> str:
    """A URL path with `*` wildcards: `/pricing`, `/blog/*`, `*thank-you*`."""
    if value and not (value.startswith("/") or value.startswith("*")):
        raise RuleError(field, _("must be a path starting with / (use * as a wildcard)"))
    return value


def validate_goal(body: dict[str, Any]) -> dict[str, Any]:
    """A goal from a JSON body or form: {name, kind, path | category+action | tag}."""
    if not isinstance(body, dict):
        raise RuleError("body", _("must be an object"))
    unknown = set(body) - {"name", "kind", "path", "category", "action", "tag"}
    if unknown:
        raise RuleError(sorted(unknown)[0], _("is not a goal field"))
    clean: dict[str, Any] = {"name": _str(body, "name", "name", NAME_MAX, required=True)}
    kind = body.get("kind")
    if kind not in GOAL_KINDS:
        raise RuleError("kind", _("must be one of {values}").format(values=", ".join(GOAL_KINDS)))
    clean.update(kind=kind, path="", category="", action="", tag="")
    if kind == "page":
        clean["path"] = path_pattern(_str(body, "path", "path", PATH_MAX, required=True), "path")
    elif kind == "event":
        clean["category"] = _str(body, "category", "category", EVENT_MAX, required=True)
        clean["action"] = _str(body, "action", "action", EVENT_MAX)
    else:
        clean["tag"] = _str(body, "tag", "tag", TAG_MAX, required=True)
    return clean


def _url_ok(value: str) -> bool:
    """http(s), protocol-relative or relative URLs only (no javascript:, data:, vbscript:…)."""
    squeezed = re.sub(r"[\s\x00-\x1f]", "", value)
    match = _SCHEME.match(squeezed)
    return match is None or match.group(1).lower() in ("http", "https")


def _validate_change(raw: Any, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RuleError(field, _("must be an object"))
    unknown = set(raw) - {"selector", "text", "styles", "attributes"}
    if unknown:
        raise RuleError(f"{field}.{sorted(unknown)[0]}", _("is not a change field"))
    selector = _str(raw, "selector", f"{field}.selector", SELECTOR_MAX, required=True)
    if any(c in selector for c in "{};<"):
        raise RuleError(f"{field}.selector", _("must be a CSS selector such as h1.title or #buy"))
    change: dict[str, Any] = {"selector": selector}
    if raw.get("text") is not None:
        text = raw["text"]
        if not isinstance(text, str):
            raise RuleError(f"{field}.text", _("must be text"))
        if len(text) > TEXT_MAX:
            raise RuleError(f"{field}.text", _("may be at most {n} characters").format(n=TEXT_MAX))
        if _HTML.search(text):
            raise RuleError(f"{field}.text", _("must be plain text; HTML is not allowed"))
        if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
            raise RuleError(f"{field}.text", _("may not contain control characters"))
        change["text"] = text
    styles = raw.get("styles")
    if styles is not None:
        if not isinstance(styles, dict) or len(styles) > MAX_STYLES:
            raise RuleError(f"{field}.styles", _("must be an object of at most {n} properties").format(n=MAX_STYLES))
        clean_styles = {}
        for name, value in styles.items():
            key = f"{field}.styles.{name}"
            prop = str(name).strip().lower()
            if prop not in STYLE_PROPERTIES:
                raise RuleError(key, _("is not an allowed style property"))
            if not isinstance(value, str) or not value.strip():
                raise RuleError(key, _("must be a non-empty CSS value"))
            value = value.strip()
            if len(value) > STYLE_VALUE_MAX:
                raise RuleError(key, _("may be at most {n} characters").format(n=STYLE_VALUE_MAX))
            if _BAD_STYLE.search(value) or _CONTROL.search(value):
                raise RuleError(key, _("may not use url(), expression(), javascript:, escapes or < > {{ }} ; @"))
            clean_styles[prop] = value
        if clean_styles:
            change["styles"] = clean_styles
    attributes = raw.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict) or len(attributes) > MAX_ATTRIBUTES:
            raise RuleError(f"{field}.attributes",
                            _("must be an object of at most {n} attributes").format(n=MAX_ATTRIBUTES))
        clean_attrs = {}
        for name, value in attributes.items():
            key = f"{field}.attributes.{name}"
            attr = str(name).strip().lower()
            if attr not in ATTRIBUTES:
                raise RuleError(key, _("is not an allowed attribute ({names})").format(names=", ".join(sorted(ATTRIBUTES))))
            if not isinstance(value, str):
                raise RuleError(key, _("must be text"))
            value = value.strip()
            if len(value) > ATTRIBUTE_VALUE_MAX:
                raise RuleError(key, _("may be at most {n} characters").format(n=ATTRIBUTE_VALUE_MAX))
            if _CONTROL.search(value):
                raise RuleError(key, _("may not contain control characters or line breaks"))
            if attr in URL_ATTRIBUTES and not _url_ok(value):
                raise RuleError(key, _("must be an http(s) or relative URL"))
            if attr == "class" and not _CLASS.match(value):
                raise RuleError(key, _("must be class names (letters, digits, - and _)"))
            if attr == "target" and not _TARGET.match(value):
                raise RuleError(key, _("must be a frame name such as _blank"))
            clean_attrs[attr] = value
        if clean_attrs:
            change["attributes"] = clean_attrs
    if len(change) == 1:
        raise RuleError(field, _("must set text, styles or attributes"))
    return change


def _validate_variant(raw: Any, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RuleError(field, _("must be an object"))
    unknown = set(raw) - {"id", "name", "weight", "changes"}
    if unknown:
        raise RuleError(f"{field}.{sorted(unknown)[0]}", _("is not a variant field"))
    variant: dict[str, Any] = {"name": _str(raw, "name", f"{field}.name", NAME_MAX, required=True)}
    if raw.get("id") is not None:
        if not isinstance(raw["id"], int) or isinstance(raw["id"], bool) or raw["id"] < 1:
            raise RuleError(f"{field}.id", _("must be the id of one of this test's variants"))
        variant["id"] = raw["id"]
    # A variant given by id keeps the weight and changes it is sent without; a new one gets 50 and none.
    if "weight" in raw or "id" not in variant:
        weight = raw.get("weight", 50)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
            raise RuleError(f"{field}.weight", _("must be a whole number from 0 to 100"))
        variant["weight"] = weight
    if "changes" not in raw and "id" in variant:
        return variant
    changes = raw.get("changes", [])
    if not isinstance(changes, list):
        raise RuleError(f"{field}.changes", _("must be a list"))
    if len(changes) > MAX_CHANGES:
        raise RuleError(f"{field}.changes", _("may hold at most {n} changes").format(n=MAX_CHANGES))
    variant["changes"] = [_validate_change(c, f"{field}.changes[{i}]") for i, c in enumerate(changes)]
    return variant


def validate_test(body: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """An A/B test: {name, page, goal_id, status, variants: [{id?, name, weight, changes}]}.

    `partial` (PATCH) checks only the keys present. The first variant is the control.
    """
    if not isinstance(body, dict):
        raise RuleError("body", _("must be an object"))
    unknown = set(body) - {"name", "page", "goal_id", "status", "variants"}
    if unknown:
        raise RuleError(sorted(unknown)[0], _("is not an A/B test field"))
    clean: dict[str, Any] = {}
    if not partial or "name" in body:
        clean["name"] = _str(body, "name", "name", NAME_MAX, required=True)
    if not partial or "page" in body:
        clean["page"] = path_pattern(_str(body, "page", "page", PATH_MAX), "page")
    if "goal_id" in body:
        goal_id = body["goal_id"]
        if goal_id is not None and (not isinstance(goal_id, int) or isinstance(goal_id, bool) or goal_id < 1):
            raise RuleError("goal_id", _("must be the id of one of this site's goals, or null"))
        clean["goal_id"] = goal_id
    if "status" in body:
        if body["status"] not in TEST_STATUSES:
            raise RuleError("status", _("must be one of {values}").format(values=", ".join(TEST_STATUSES)))
        clean["status"] = body["status"]
    if not partial or "variants" in body:
        variants = body.get("variants")
        if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_VARIANTS:
            raise RuleError("variants", _("must be a list of 2 to {n} variants (the first is the control)").format(
                n=MAX_VARIANTS))
        clean["variants"] = [_validate_variant(v, f"variants[{i}]") for i, v in enumerate(variants)]
        if all("weight" in v for v in clean["variants"]) and sum(v["weight"] for v in clean["variants"]) <= 0:
            raise RuleError("variants[0].weight", _("at least one variant needs a weight above 0"))
        ids = [v["id"] for v in clean["variants"] if "id" in v]
        if len(ids) != len(set(ids)):
            raise RuleError("variants", _("lists the same variant id twice"))
    return clean


def variant_tag(test_id: int, variant_key: str) -> str:
    """The session tag the ab.js script adds: what results are read from."""
    return f"AB-{test_id}-{variant_key}"
