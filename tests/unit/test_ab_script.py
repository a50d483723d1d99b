"""ab.js body building: the embedded JSON survives hostile strings, both as JavaScript and inside HTML."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from core.ab_script import build_script, script_json

HOSTILE = [
    "</script><script>alert(1)</script>",
    "<!-- <script>",
    "]]> & &amp; \" ' ` ${x} \\ \\u2028",
    "line\u2028separator\u2029paragraph",
    "*/ alert(1) /*",
    "😀 ü ß \u0000",
]
TESTS = [{"id": 7, "page": "/p*", "variants": [
    {"id": 1, "weight": 50, "changes": []},
    {"id": 2, "weight": 50, "changes": [{"selector": "h1", "text": text, "attributes": {"title": text}}
                                        for text in HOSTILE]}]}]


def test_json_has_no_character_that_could_end_a_script_or_a_line():
    text = script_json(TESTS)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert text.isascii()
    assert json.loads(text) == TESTS  # still exactly the same data


def test_the_body_is_inert_inside_an_html_script_element():
    body = build_script("window.__got = UST_AB_TESTS;", "evil.example", TESTS)
    assert not re.search(r"</script|<!--|<script", body, re.IGNORECASE)
    assert body.startswith("/* uxwizz A/B tests for evil.example: 1 running */\n")


def test_domain_in_the_comment_cannot_close_it():
    body = build_script("", "a*/alert(1)/*.example", [])
    first_line = body.split("\n")[0]
    assert first_line.count("*/") == 1 and first_line.endswith("*/")


def test_source_map_comment_is_dropped():
    body = build_script("var a=1;\n//# sourceMappingURL=ust-ab.min.js.map\n", "x.example", [])
    assert "sourceMappingURL" not in body


def test_javascript_engine_reads_back_the_same_data():
    node = shutil.which("node")
    assert node, "node is required (it builds the tracker)"
    body = build_script("globalThis.__got = UST_AB_TESTS;", "x.example", TESTS)
    script = ("const vm = require('vm'); const ctx = {}; vm.createContext(ctx);"
              "vm.runInContext(require('fs').readFileSync(0, 'utf8'), ctx);"
              "process.stdout.write(JSON.stringify(ctx.__got));")
    out = subprocess.run([node, "-e", script], input=body, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == TESTS
