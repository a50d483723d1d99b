"""Every template we ship is rendered by some test (issue #4: "every page renders").

Runs last, and only when the whole unit + functional suite ran (tests/template_coverage.py deselects
it otherwise); templates count when their body ran, as a page, a parent layout, an include or an import.
"""

from __future__ import annotations

import os

from tests.template_coverage import RENDERED, ROOT, shipped_templates


def test_every_shipped_template_is_rendered_by_some_test():
    shipped = shipped_templates()
    assert len(shipped) > 40  # the glob found the templates: an empty set would pass vacuously
    never = sorted(os.path.relpath(path, ROOT) for path in shipped - RENDERED)
    assert not never, "templates no test rendered (write a test that renders them, or delete dead ones):\n  " + \
        "\n  ".join(never)
