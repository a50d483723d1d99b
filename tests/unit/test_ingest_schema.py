"""Every limit of the wire format (tracker/ARCHITECTURE.md): clean values pass, each violation is
refused with the field named."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from core.ingest import schema
from core.ingest.schema import Rejection

T = 1764489600123
PID = "p8Hq2LmX0a"


def valid() -> dict[str, Any]:
    return {
        "v": 1, "site": "Example.com", "sid": "k3J9aQ2xP0c7VbN1mZt8Ru", "bid": "k3J9aQ2xP0c7VbN1mZt8Ru-0003",
        "sent": T,
        "session": {"screen": [1920, 1080], "lang": "en-GB", "tz": "Europe/London",
                    "referrer": "https://www.google.com/", "landing": "https://example.com/?utm_source=news",
                    "utm": {"source": "news", "medium": "email", "campaign": "nov", "term": "", "content": ""},
                    "gclid": "", "fbclid": ""},
        "pages": [{"pid": PID, "url": "https://example.com/pricing", "title": "Pricing",
                   "referrer": "https://www.google.com/", "t": T, "vw": 1280, "vh": 720, "dw": 1280,
                   "dh": 3400, "active_ms": 5400, "visible_ms": 9000, "scroll": 62}],
        "events": [{"pid": PID, "t": T, "category": "video", "action": "play", "label": "intro", "value": 12.5,
                    "value_secondary": None, "item_id": "v1", "data": {"q": "hd"}}],
        "tags": [{"pid": PID, "t": T, "tag": "newsletter"}],
        "pointer": [
            {"pid": PID, "t": T, "k": "click", "x": 640, "y": 1210, "sel": "a.cta", "ox": 0.42, "oy": 0.5, "vw": 1280},
            {"pid": PID, "t": T, "k": "move", "x": 600, "y": 1190, "vw": 1280},
            {"pid": PID, "t": T, "k": "scroll", "y": 900, "vw": 1280},
            {"pid": PID, "t": T, "k": "resize", "w": 1024, "h": 700},
            {"pid": PID, "t": T, "k": "select", "sel": "p.lead", "text_len": 12},
            {"pid": PID, "t": T, "k": "input", "sel": "#email", "value": "•••••"},
        ],
    }


def test_the_documented_example_is_valid_and_cleaned():
    clean = schema.payload(valid())
    assert clean["site"] == "example.com"  # host names are case-insensitive
    assert clean["events"][0]["data"] == {"q": "hd"} and clean["events"][0]["value_secondary"] is None
    assert [p["k"] for p in clean["pointer"]] == ["click", "move", "scroll", "resize", "select", "input"]
    assert clean["pointer"][0] == {"pid": PID, "t": T, "k": "click", "x": 640, "y": 1210, "vw": 1280,
                                   "sel": "a.cta", "ox": 0.42, "oy": 0.5}


def test_optional_parts_may_be_missing_and_unknown_fields_are_dropped():
    body = {"v": 1, "site": "example.com", "sid": "a" * 16, "bid": "b" * 8, "sent": T, "future": {"x": 1},
            "pages": [{"pid": PID, "url": "http://example.com", "t": T}]}
    clean = schema.payload(body)
    assert "future" not in clean and "session" not in clean and "events" not in clean
    assert clean["pages"][0]["title"] == "" and clean["pages"][0]["scroll"] == 0


def set_path(body: dict[str, Any], path: str, value: Any) -> None:
    target: Any = body
    keys = path.replace("]", "").replace("[", ".").split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value


DELETE = object()
LONG = "x" * 2049

CASES = [
    ("v", 2), ("v", True), ("v", DELETE),
    ("site", ""), ("site", "a" * 254), ("site", "exa mple.com"), ("site", 5),
    ("sid", "a" * 15), ("sid", "a" * 65), ("sid", "a" * 15 + "!"), ("sid", None),
    ("bid", "a" * 7), ("bid", "a" * 81), ("bid", "a/bcdefgh"),
    ("sent", "now"), ("sent", -1), ("sent", 10**15), ("sent", True),
    ("session", "x"), ("session.screen", [1]), ("session.screen[0]", -1), ("session.screen[1]", 100_001),
    ("session.lang", "x" * 201), ("session.tz", 5), ("session.referrer", LONG),
    ("session.landing", "javascript:alert(1)"), ("session.landing", "https://" + "a" * 2048),
    ("session.utm", "x"), ("session.utm.source", "x" * 201), ("session.gclid", "x" * 201),
    ("session.fbclid", []),
    ("pages", "x"), ("pages", [valid()["pages"][0]] * 51), ("pages[0]", "x"),
    ("pages[0].pid", "short"), ("pages[0].pid", "a" * 65), ("pages[0].url", "ftp://example.com/"),
    ("pages[0].url", "https://"), ("pages[0].url", "https://example.com/" + "a" * 2048),
    ("pages[0].url", DELETE), ("pages[0].title", "x" * 513), ("pages[0].referrer", LONG),
    ("pages[0].t", DELETE), ("pages[0].vw", -1), ("pages[0].vh", 100_001), ("pages[0].dw", 1.5),
    ("pages[0].active_ms", -5), ("pages[0].visible_ms", 2**31), ("pages[0].scroll", 101),
    ("pages[0].scroll", -1), ("pages[0].scroll", "50"),
    ("events", [valid()["events"][0]] * 201), ("events[0].category", ""), ("events[0].category", DELETE),
    ("events[0].category", "x" * 129), ("events[0].action", "x" * 129), ("events[0].action", 7),
    ("events[0].label", "x" * 257), ("events[0].item_id", "x" * 257), ("events[0].value", "12"),
    ("events[0].value", True), ("events[0].value_secondary", 1e16), ("events[0].data", [1, 2]),
    ("events[0].data", {"k": "x" * 4096}), ("events[0].pid", None), ("events[0].t", "x"),
    ("tags", [valid()["tags"][0]] * 101), ("tags[0].tag", ""), ("tags[0].tag", "x" * 129),
    ("tags[0].tag", None), ("tags[0].pid", "bad pid!"),
    ("pointer", [valid()["pointer"][1]] * 2001), ("pointer[0].k", "hover"), ("pointer[0].x", -1),
    ("pointer[0].x", 1_000_001), ("pointer[0].y", DELETE), ("pointer[0].sel", "x" * 513),
    ("pointer[0].ox", 1.5), ("pointer[0].oy", -0.1), ("pointer[0].vw", 100_001), ("pointer[3].w", -1),
    ("pointer[3].h", "7"), ("pointer[4].text_len", -1), ("pointer[5].value", "x" * 1025),
    ("pointer[2].y", 1.5),
]


@pytest.mark.parametrize(("path", "value"), CASES, ids=[f"{p}={str(v)[:12]}" for p, v in CASES])
def test_each_limit_is_enforced_and_the_field_named(path, value):
    body = copy.deepcopy(valid())
    set_path(body, path, value)
    with pytest.raises(Rejection) as caught:
        schema.payload(body)
    assert caught.value.status == 422 and caught.value.code == "invalid"
    named = path.split("[")[0] if path in ("pages", "events", "tags", "pointer") else path
    assert caught.value.detail.startswith(named), caught.value.detail


@pytest.mark.parametrize(("path", "value"), [
    ("sid", "a" * 16), ("sid", "A-_" + "z" * 61), ("bid", "a" * 80), ("pages[0].scroll", 100),
    ("pages[0].title", "x" * 512), ("events[0].category", "x" * 128), ("events[0].value", None),
    ("events[0].value", -3), ("events[0].data", None), ("tags[0].tag", "x" * 128), ("pointer[0].ox", 0),
    ("pointer[0].ox", 1), ("pointer[0].x", 0), ("pages[0].t", 1764489600123.0), ("session", None),
    ("pointer[0].sel", "x" * 512), ("session.landing", ""), ("events", [valid()["events"][0]] * 200),
])
def test_values_on_the_limits_pass(path, value):
    body = copy.deepcopy(valid())
    set_path(body, path, value)
    schema.payload(body)


def test_json_level_errors():
    for raw in (b"", b"{", b"\xff", b'"text"', b"null", b"[]", b'{"v": NaN}', b'{"v": Infinity}'):
        with pytest.raises(Rejection) as caught:
            schema.parse_body(raw)
        assert caught.value.status == 400 and caught.value.code == "invalid_json"
    with pytest.raises(Rejection):
        schema.parse_body(b"[" * 100_000 + b"]" * 100_000)  # deep nesting: a 400, not a crash


def test_clean_payload_is_json_serialisable():
    clean = schema.parse_body(json.dumps(valid()).encode())
    assert json.loads(json.dumps(clean)) == clean
