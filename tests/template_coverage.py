"""Template coverage (issue #4, "every page renders"): every template file we ship is rendered by some test.

Records each Jinja2 template whose body runs during the session — rendered directly, or as the parent
of an `{% extends %}`, an `{% include %}` or an `{% import %}` — and
tests/functional/test_template_coverage.py fails naming the files never rendered. That test only
means something after the whole functional suite ran, so it is deselected (not skipped) whenever the
run is partial: a file or test id, `--ignore`, `-k`, `-m`, `--lf`, `--deselect`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from typing import Any

import jinja2
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = os.path.join(ROOT, "tests", "functional")  # where pages are rendered
CHECK_TEST = "tests/functional/test_template_coverage.py"
RENDERED: set[str] = set()  # absolute paths of template files whose body ran


def shipped_templates() -> set[str]:
    """templates/ (dashboard, installer, errors, partials, player) and the shipped plugins' templates."""
    found = glob.glob(os.path.join(ROOT, "templates", "**", "*"), recursive=True)
    found += glob.glob(os.path.join(ROOT, "plugins", "*", "templates", "**", "*"), recursive=True)
    return {os.path.realpath(path) for path in found if os.path.isfile(path)}


def record_renders() -> None:
    """Wrap every compiled template's root render function: extends, include and import call it
    directly (not `Template.render`), so this sees parents and partials too."""
    original = jinja2.Template._from_namespace.__func__  # type: ignore[attr-defined]

    def from_namespace(cls: Any, environment: Any, namespace: Any, globals: Any) -> Any:
        template = original(cls, environment, namespace, globals)
        body, filename = template.root_render_func, template.filename
        if filename:
            def root_render_func(context: Any) -> Iterator[str]:
                RENDERED.add(os.path.realpath(filename))
                yield from body(context)

            template.root_render_func = root_render_func
        return template

    jinja2.Template._from_namespace = classmethod(from_namespace)  # type: ignore[method-assign,assignment]


def whole_suite(config: pytest.Config) -> bool:
    """The run was given tests/functional or a folder above it, and nothing in it was ignored."""
    if config.getoption("ignore") or config.getoption("ignore_glob"):
        return False
    roots = [os.path.realpath(os.path.join(config.invocation_params.dir, arg)) for arg in config.args
             if "::" not in arg]
    return any(SUITE == root or SUITE.startswith(root + os.sep) for root in roots)


class WholeSuiteOnly:
    """Keeps the coverage test only when the whole functional suite was collected and nothing was
    deselected; moves it last so every other test has rendered first."""

    def __init__(self) -> None:
        self.deselected = 0

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    # The outermost wrapper: its second half runs after every other plugin (-k, -m, --lf) filtered.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
        result = yield
        check = [item for item in items if item.nodeid.startswith(CHECK_TEST)]
        if not check:
            return result
        others = [item for item in items if item not in check]
        if self.deselected == 0 and whole_suite(config):
            items[:] = others + check
        else:
            items[:] = others
            config.hook.pytest_deselected(items=check)
        return result


def register(config: pytest.Config) -> None:
    record_renders()
    config.pluginmanager.register(WholeSuiteOnly(), "template-coverage")
