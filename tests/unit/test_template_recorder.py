"""The template-coverage recorder (tests/template_coverage.py) counts what a render really runs:
the page, its `{% extends %}` parent, `{% include %}`d and `{% import %}`ed files — and not a
template that was only loaded."""

from __future__ import annotations

import os

import jinja2

from tests.template_coverage import RENDERED


def test_parents_includes_and_imports_count_loaded_only_does_not(tmp_path):
    files = {
        "page.html": '{% extends "base.html" %}{% import "macros.html" as m %}'
                     '{% block body %}{% include "part.html" %}{{ m.hello() }}{% endblock %}',
        "base.html": "<main>{% block body %}{% endblock %}</main>",
        "part.html": "<p>part</p>",
        "macros.html": "{% macro hello() %}hi{% endmacro %}",
        "loaded_only.html": "<p>never rendered</p>",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path)), autoescape=True)
    env.get_template("loaded_only.html")
    assert env.get_template("page.html").render() == "<main><p>part</p>hi</main>"
    seen = {os.path.basename(path) for path in RENDERED if path.startswith(os.path.realpath(tmp_path))}
    assert seen == {"page.html", "base.html", "part.html", "macros.html"}
