"""The tracker build: both bundles with source maps, ust.min.js within its 8 KB gzip budget."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess

import pytest

from tests.support import PROJECT_ROOT

GZIP_BUDGET = 8 * 1024  # tracker/ARCHITECTURE.md, DESIGN.md §6


def build_tracker(out_dir: str) -> str:
    """Build the bundles from tracker/src into out_dir (never over the served static/build/)."""
    node = shutil.which("node")
    assert node, "node is missing: install Node.js 18+ (make install needs it too)"
    assert os.path.isdir(os.path.join(PROJECT_ROOT, "node_modules", "esbuild")), "run `npm ci` (make install does)"
    result = subprocess.run([node, "tracker/build.mjs", "--outdir", str(out_dir)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return str(out_dir)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    return build_tracker(str(tmp_path_factory.mktemp("tracker-build")))


def test_both_bundles_and_their_maps_are_built(built):
    for name in ("ust.min.js", "ust-rr.min.js"):
        code = open(os.path.join(built, name), encoding="utf-8").read()
        assert code.rstrip().endswith(f"//# sourceMappingURL={name}.map")
        source_map = json.load(open(os.path.join(built, name + ".map"), encoding="utf-8"))
        assert any(source.endswith("tracker/src/core.js") for source in source_map["sources"])
        assert "sourcesContent" in source_map


def test_default_tracker_is_within_the_gzip_budget(built):
    code = open(os.path.join(built, "ust.min.js"), "rb").read()
    size = len(gzip.compress(code, compresslevel=9))
    print(f"ust.min.js: {len(code)} bytes, {size} bytes gzip (budget {GZIP_BUDGET})")
    assert size <= GZIP_BUDGET, f"ust.min.js is {size} bytes gzip, over the {GZIP_BUDGET} byte budget"


def test_only_the_rr_bundle_knows_the_recorder_chunk(built):
    default = open(os.path.join(built, "ust.min.js"), encoding="utf-8").read()
    recording = open(os.path.join(built, "ust-rr.min.js"), encoding="utf-8").read()
    assert "ust-rr-recorder.min.js" in recording
    assert "ust-rr-recorder.min.js" not in default


def test_bundle_is_self_contained_and_sets_no_cookies(built):
    code = open(os.path.join(built, "ust.min.js"), encoding="utf-8").read()
    assert code.startswith("(()=>{"), "an IIFE: no globals but UST/UST_CT leak into the host page"
    assert "document.cookie" not in code and ".cookie" not in code
    assert not re.search(r"\bimport\s*\(|\brequire\(", code)
