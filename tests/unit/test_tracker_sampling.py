"""Tracker and server put the same tabs in the sample: the tracker's BLAKE2b matches hashlib's."""

from __future__ import annotations

import json
import random
import shutil
import string
import subprocess

from core.enrich.rules import sampled_in
from tests.support import PROJECT_ROOT

ALPHABET = string.ascii_letters + string.digits + "_-"


def js_buckets(tokens: list[str]) -> list[int]:
    node = shutil.which("node")
    assert node, "node is missing: install Node.js 18+"
    script = (
        "import { blake2b32 } from './tracker/src/hash.js';"
        "const tokens = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(tokens.map((t) => blake2b32(t))));"
    )
    result = subprocess.run([node, "--input-type=module", "-e", script, json.dumps(tokens)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_tracker_sampling_decision_equals_the_servers():
    rng = random.Random(7)
    tokens = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(16, 64))) for _ in range(400)]
    tokens += ["k3J9aQ2xP0c7VbN1mZt8Ru", "a" * 16, "-" * 64]
    digests = js_buckets(tokens)
    for token, digest in zip(tokens, digests, strict=True):
        for percent in (1, 10, 33, 50, 99):
            assert (digest % 100 < percent) == sampled_in(token, percent), (token, percent)
    # About half the tokens are in a 50 % sample: the hash spreads them.
    share = sum(1 for d in digests if d % 100 < 50) / len(digests)
    assert 0.4 < share < 0.6
