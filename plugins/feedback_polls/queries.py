"""Poll results: events of category "poll", action = the question, label = the answer chosen."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from peewee import fn

from core.i18n import _
from core.models import Event
from core.queries.query import Query

CATEGORY = "poll"
MAX_QUESTIONS = 20
MAX_ANSWERS = 10  # per question; the rest are summed as "Other answers"


def poll_results(query: Query) -> list[dict[str, Any]]:
    """Per question: total answers and each answer's count and share (percent, one decimal).

    Questions with most answers first; answers most chosen first, ties by text.
    """
    low, high = query.utc_bounds()
    count = fn.COUNT(Event.id)
    rows = (Event
            .select(Event.action, Event.label, count.alias("n"))
            .where((Event.site == query.site_id) & (Event.category == CATEGORY)
                   & (Event.occurred_at >= low) & (Event.occurred_at < high))
            .group_by(Event.action, Event.label)
            .tuples())
    by_question: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for question, answer, n in rows:
        by_question[question].append((answer, int(n)))
    results = []
    for question, answers in by_question.items():
        total = sum(n for _answer, n in answers)
        answers.sort(key=lambda item: (-item[1], item[0]))
        shown, rest = answers[:MAX_ANSWERS], answers[MAX_ANSWERS:]
        items = [{"answer": answer or _("(no answer)"), "count": n, "share": _share(n, total)}
                 for answer, n in shown]
        if rest:
            other = sum(n for _answer, n in rest)
            items.append({"answer": _("Other answers"), "count": other, "share": _share(other, total)})
        results.append({"question": question, "total": total, "answers": items})
    results.sort(key=lambda item: (-item["total"], item["question"]))
    return results[:MAX_QUESTIONS]


def _share(n: int, total: int) -> float:
    return round(100.0 * n / total, 1) if total else 0.0
