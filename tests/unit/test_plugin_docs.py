"""Plugin docs cannot drift: every hook is in plugins/README.md with its exact signature."""

from __future__ import annotations

import inspect
import os
import re

from core.plugins import hookspecs
from tests.support import PROJECT_ROOT

README = os.path.join(PROJECT_ROOT, "plugins", "README.md")


def hook_signatures() -> dict[str, str]:
    return {
        name: f"{name}({', '.join(inspect.signature(func).parameters)})"
        for name, func in vars(hookspecs).items()
        if name.startswith("uxwizz_") and callable(func)
    }


def test_every_hookspec_is_documented_with_its_signature():
    text = open(README, encoding="utf-8").read()
    signatures = hook_signatures()
    assert len(signatures) == 10  # a new hook needs a README section too
    missing = [sig for sig in signatures.values() if f"### `{sig}`" not in text]
    assert missing == []


def test_the_readme_documents_no_hook_that_does_not_exist():
    text = open(README, encoding="utf-8").read()
    documented = set(re.findall(r"^### `(uxwizz_\w+)\(", text, flags=re.M))
    assert documented == set(hook_signatures())


def test_every_hookspec_has_a_docstring():
    for name, func in vars(hookspecs).items():
        if name.startswith("uxwizz_"):
            assert (func.__doc__ or "").strip(), name


def test_docs_page_points_to_the_guide():
    text = open(os.path.join(PROJECT_ROOT, "docs", "plugins.md"), encoding="utf-8").read()
    assert "../plugins/README.md" in text
