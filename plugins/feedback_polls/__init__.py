"""Feedback polls: a panel on the site overview summarising answers to on-site polls.

Sites send `UST.addEvent({category: "poll", action: "<question>", label: "<answer>"})`.
"""

from __future__ import annotations

from core.plugins.api import Panel, _, hookimpl

from . import queries


@hookimpl
def uxwizz_panels() -> list[Panel]:
    return [Panel(_("Feedback polls"), queries.poll_results, "feedback_polls/panel.html", key="results", order=60)]
