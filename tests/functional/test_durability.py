"""Nothing accepted is lost or stored twice: journal replay after a crash (torn tail included),
flushes while the database is unusable, graceful shutdown, and arbitrary input never a 5xx."""

from __future__ import annotations

import glob
import json
import os
import shutil
import string
import uuid

import webtest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.app import create_app
from core.db import open_database
from core.models import CollectBatch, Event, Session
from tests.functional.test_collect import CHROME, ORIGIN, PID, flush, now_ms, payload, post


def segments(app) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(glob.glob(os.path.join(app.ctx.settings.data_dir, "journal", "slot-*", "*.jsonl")))


def event(n: int, t: int) -> dict:
    return {"pid": PID, "t": t, "category": "test", "action": "n", "label": str(n)}


def post_numbered(client: webtest.TestApp, numbers: range, t: int) -> None:
    for n in numbers:
        post(client, payload(f"{n:04d}", t=t, session=n == numbers[0], events=[event(n, t)]))


def labels() -> list[str]:
    return sorted(e.label for e in Event.select())


def test_replayed_journal_is_stored_once_and_a_torn_tail_is_skipped(installed_settings, tmp_path):
    t = now_ms() - 1000
    app = create_app(installed_settings)
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    post_numbered(client, range(0, 5), t)
    ingest = app.ctx.services["ingest"]
    ingest.journal.seal()
    saved = [shutil.copy(path, tmp_path / os.path.basename(path)) for path in segments(app)]
    flush(app)  # committed...
    post_numbered(client, range(5, 8), t)
    app.ctx.services["ingest"].journal.seal()
    pending = segments(app)
    # ...and now "crash" as if the committed segment had not been deleted yet, with a torn write
    # at the end of the pending one. Release the journal's locks without flushing (like kill -9).
    crashed_journal = ingest.journal
    crashed_journal.sealed.clear()
    crashed_journal.close()
    app.ctx.shutdown_hooks.remove(ingest.shutdown)
    app.shutdown()
    for copy in saved:
        shutil.copy(copy, os.path.join(os.path.dirname(pending[0]), os.path.basename(copy)))
    with open(pending[-1], "ab") as handle:
        handle.write(b'{"s":1,"r":1,"ip":"1.2.3.4","p":{"v":1,"si')
    restarted = create_app(installed_settings)
    try:
        assert restarted.ctx.services["ingest_depth"]() == 5 + 3  # the torn line is not an entry
        report = flush(restarted)
        assert (report.stored, report.duplicates) == (3, 5)
        assert labels() == sorted(str(n) for n in range(8))
        assert CollectBatch.select().count() == 8 and Session.select().count() == 1
        assert restarted.ctx.services["ingest_depth"]() == 0 and segments(restarted) == []
    finally:
        restarted.shutdown()


def rename_table(settings, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
    other = open_database(settings["database.url"], settings.base_dir)
    other.db.execute_sql(f"ALTER TABLE {old} RENAME TO {new}")
    other.close()


def test_a_failed_flush_keeps_the_journal_and_retries(app, client, installed_settings):
    t = now_ms() - 1000
    flusher = app.ctx.services["ingest"].flusher
    rename_table(installed_settings, "collect_batches", "collect_batches_away")  # the database refuses us
    post_numbered(client, range(0, 4), t)
    assert flusher.tick() is False
    assert flusher.backoff >= 1.0 and app.ctx.services["ingest_depth"]() == 4
    post_numbered(client, range(4, 6), t)  # still accepted while the database is unusable
    assert flusher.tick() is False and flusher.backoff >= 2.0
    health = client.get("/healthz").json
    assert health["buffer_depth"] == 6 and health["collect"]["last_error"]
    rename_table(installed_settings, "collect_batches_away", "collect_batches")
    assert flusher.tick() is True and flusher.backoff == 0
    assert labels() == sorted(str(n) for n in range(6))
    assert app.ctx.services["ingest_depth"]() == 0


def test_graceful_shutdown_flushes(installed_settings):
    t = now_ms() - 1000
    app = create_app(installed_settings)
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    post_numbered(client, range(0, 3), t)
    app.shutdown()  # no flush_now: the shutdown hook writes them
    check = open_database(installed_settings["database.url"], installed_settings.base_dir)
    try:
        assert sorted(label for (label,) in Event.select(Event.label).tuples()) == ["0", "1", "2"]
    finally:
        check.close()


def test_shutdown_while_the_database_is_unusable_keeps_the_journal_for_the_next_start(installed_settings):
    t = now_ms() - 1000
    app = create_app(installed_settings)
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    post_numbered(client, range(0, 3), t)
    rename_table(installed_settings, "collect_batches", "collect_batches_away")
    app.shutdown()
    rename_table(installed_settings, "collect_batches_away", "collect_batches")
    again = create_app(installed_settings)
    try:
        assert again.ctx.services["ingest_depth"]() == 3
        flush(again)
        assert labels() == ["0", "1", "2"]
    finally:
        again.shutdown()


# -- property: arbitrary input never crashes; valid payloads are stored exactly once -------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["v", "site", "sid", "bid", "sent", "session", "pages", "events", "tags", "pointer"]
shaped = st.fixed_dictionaries({}, optional={name: json_values for name in FIELDS})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                      shaped.map(lambda v: json.dumps(v).encode())))
def test_arbitrary_bodies_never_produce_a_5xx(client, body):
    response = client.post("/api/collect", body, headers={"Content-Type": "text/plain", "Origin": ORIGIN,
                                                          "User-Agent": CHROME}, status="*")
    assert response.status_int in (202, 400, 403, 404, 413, 422), response.status
    if response.status_int >= 400:
        assert set(response.json) == {"error", "detail"} and response.json["detail"]


token = st.text(string.ascii_letters + string.digits + "_-", min_size=16, max_size=20)
safe_text = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s)
events = st.lists(st.fixed_dictionaries({
    "category": safe_text, "action": safe_text,
    "label": st.text(max_size=50).filter(lambda s: "\x00" not in s),
    "value": st.none() | st.floats(-1e9, 1e9, allow_nan=False),
}), max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.tuples(token, events, st.integers(1, 3)), min_size=1, max_size=4))
def test_valid_payloads_are_stored_exactly_once(app, client, batches):
    t = now_ms() - 5000
    before_batches, before_events = CollectBatch.select().count(), Event.select().count()
    expected_events = 0
    for sid, items, copies in batches:
        body = payload(uuid.uuid4().hex[:12], sid=sid, t=t, events=[{"pid": PID, "t": t, **item} for item in items])
        expected_events += len(items)
        for _copy in range(copies):  # retries of the same batch
            post(client, body)
    flush(app)
    assert CollectBatch.select().count() - before_batches == len(batches)
    assert Event.select().count() - before_events == expected_events


def test_an_entry_the_database_refuses_is_set_aside_and_the_rest_stored(app, client, installed_settings):
    from core.sites import create_site

    gone = create_site("gone.test")
    app.ctx.services["ingest"].sites.refresh()
    t = now_ms() - 1000
    post(client, payload("0001", t=t, site="gone.test"), origin="https://gone.test")
    post(client, payload("0002", t=t, events=[event(1, t)]))
    # The site disappears behind the cache's back: its rows now break a foreign key.
    other = open_database(installed_settings["database.url"], installed_settings.base_dir)
    other.db.execute_sql(f"DELETE FROM sites WHERE id = {int(gone.id)}")
    other.close()
    report = app.ctx.services["ingest"].flusher.flush_now()  # no site refresh first
    assert (report.stored, report.failed) == (1, 1)
    assert labels() == ["1"]
    rejected = os.path.join(app.ctx.settings.data_dir, "journal", "rejected.jsonl")
    with open(rejected, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert len(lines) == 1 and lines[0]["entry"]["p"]["site"] == "gone.test"
    assert "IntegrityError" in lines[0]["error"]
    assert client.get("/healthz").json["collect"]["failed"] == 1
    assert app.ctx.services["ingest_depth"]() == 0
