"""The Jinja2 environment: autoescape always on, gettext installed, explicit search paths."""

from __future__ import annotations

import os
from collections.abc import Iterable

import jinja2

from core import __version__
from core.i18n import _, ngettext
from core.permissions import level_name

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE_DIR = os.path.join(PROJECT_ROOT, "templates")
STATIC_DIR = os.path.join(PROJECT_ROOT, "static")


def make_environment(extra_paths: Iterable[str] = ()) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATE_DIR, *extra_paths]),
        autoescape=True,  # everything tracked is untrusted: escape by default, in every template
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(version=__version__, level_name=level_name, static=static_url)
    return env


def static_url(path: str) -> str:
    return f"/static/{path}?v={__version__}"
