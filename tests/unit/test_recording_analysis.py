"""Rage and dead clicks, summaries and markers, from event lists shaped like stored recordings."""

from __future__ import annotations

from core.recordings import analysis

T0 = 1_764_489_600_000


def rr_click(t: int, x: float = 100, y: float = 200) -> dict:
    return {"type": 3, "timestamp": t, "data": {"source": 2, "type": 2, "id": 7, "x": x, "y": y}}


def rr_mutation(t: int) -> dict:
    return {"type": 3, "timestamp": t, "data": {"source": 0, "adds": [], "removes": [], "texts": [],
                                                  "attributes": [{"id": 9, "attributes": {"class": "open"}}]}}


def rr_move(t: int) -> dict:
    return {"type": 3, "timestamp": t, "data": {"source": 1, "positions": [{"x": 1, "y": 1, "id": 1, "timeOffset": 0}]}}


def full(t: int) -> list[dict]:
    return [{"type": 4, "timestamp": t, "data": {"href": "https://example.com/", "width": 1280, "height": 800}},
            {"type": 2, "timestamp": t, "data": {"node": {"type": 0, "childNodes": [], "id": 1},
                                                  "initialOffset": {"top": 0, "left": 0}}}]


def test_three_clicks_within_a_second_on_one_spot_are_one_rage_click():
    clicks = [analysis.Click(T0 + d, 100 + d / 100, 200, None) for d in (0, 300, 700)]
    assert [c.t for c in analysis.rage_clicks(clicks)] == [T0]
    # Spread over more than a second: not rage.
    slow = [analysis.Click(T0 + d, 100, 200, None) for d in (0, 600, 1200)]
    assert analysis.rage_clicks(slow) == []
    # Three quick clicks in three different places: not rage.
    apart = [analysis.Click(T0 + i * 100, 100 + i * 200, 200, None) for i in range(3)]
    assert analysis.rage_clicks(apart) == []
    # Six quick clicks on one spot: one burst, counted once... then a second burst later.
    burst = [analysis.Click(T0 + i * 100, 50, 50, None) for i in range(6)]
    burst += [analysis.Click(T0 + 5000 + i * 100, 50, 50, None) for i in range(3)]
    assert [c.t for c in analysis.rage_clicks(burst)] == [T0, T0 + 5000]


def test_dead_click_is_a_click_the_page_did_not_answer_within_two_seconds():
    events = full(T0) + [
        rr_click(T0 + 1000),                  # answered by a mutation 500 ms later: alive
        rr_mutation(T0 + 1500),
        rr_click(T0 + 4000),                  # only mouse moves follow: dead
        rr_move(T0 + 4500), rr_move(T0 + 6500),
        rr_click(T0 + 7000),                  # the mutation comes after 2.5 s: dead
        rr_mutation(T0 + 9500),
        rr_click(T0 + 10_000),                # the recording ends 1 s later: cannot be judged
        rr_move(T0 + 11_000),
    ]
    clicks = analysis.dom_clicks(events)
    assert [(c.t - T0, c.dead) for c in clicks] == [(1000, False), (4000, True), (7000, True), (10_000, None)]
    # Navigating to the next page within 2 s answers a click.
    assert analysis.dom_clicks(full(T0) + [rr_click(T0 + 1000), rr_move(T0 + 5000)],
                               next_page_t=T0 + 1800)[0].dead is False


def test_pointer_clicks_are_never_called_dead():
    events = [{"t": T0, "k": "click", "x": 10, "y": 10}, {"t": T0 + 9000, "k": "move", "x": 1, "y": 1}]
    assert [c.dead for c in analysis.pointer_clicks(events)] == [None]


def test_summary_and_markers_of_a_two_page_session():
    dom_page = {"mode": "dom", "url": "https://example.com/", "started_at": T0, "pageview_id": 1,
                "events": full(T0) + [rr_click(T0 + 100 * i, 300, 300) for i in range(1, 4)]
                + [rr_move(T0 + 5000), rr_click(T0 + 6000, 10, 10), rr_move(T0 + 9000)]}
    pointer_page = {"mode": "pointer", "url": "https://example.com/b", "started_at": T0 + 10_000, "pageview_id": 2,
                    "events": [{"t": T0 + 10_000, "k": "move", "x": 1, "y": 1},
                               {"t": T0 + 70_000, "k": "click", "x": 5, "y": 5}]}
    summary = analysis.summarise([dom_page, pointer_page])
    assert summary["pages"] == 2 and summary["clicks"] == 5
    assert summary["rage_clicks"] == 1
    # The three rage clicks are followed by nothing but moves for > 2 s: dead too; so is the lone click.
    assert summary["dead_clicks"] == 4
    assert summary["duration_ms"] == 70_000 and summary["mode"] == "dom"
    calm = analysis.summarise([pointer_page])
    assert summary["activity"] > calm["activity"]
    kinds = [(m["kind"], m["page"]) for m in analysis.markers([dom_page, pointer_page],
                                                               [{"t": T0 + 20, "kind": "tag", "label": "x", "page": None}])]
    assert kinds[0] == ("page", 0) and ("rage", 0) in kinds and ("dead", 0) in kinds
    assert ("tag", None) in kinds and ("page", 1) in kinds and ("click", 1) in kinds
