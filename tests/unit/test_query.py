"""The Query value: defaults, presets, validation, time-zone bounds and the previous period."""

import datetime as dt

import pytest

from core.queries.query import Query, QueryError, parse_query

NOW = dt.datetime(2026, 3, 29, 12, 0, tzinfo=dt.UTC)  # the day Europe/Berlin moves to CEST


def test_default_range_is_the_last_14_days_in_the_site_zone():
    q = parse_query(1, "UTC", {}, now=NOW)
    assert (q.start, q.end, q.days) == (dt.date(2026, 3, 16), dt.date(2026, 3, 29), 14)


def test_late_evening_utc_is_already_tomorrow_in_tokyo():
    late = dt.datetime(2026, 3, 29, 20, 0, tzinfo=dt.UTC)
    assert parse_query(1, "Asia/Tokyo", {}, now=late).end == dt.date(2026, 3, 30)


def test_utc_bounds_follow_daylight_saving():
    q = Query(1, "Europe/Berlin", dt.date(2026, 3, 29), dt.date(2026, 3, 29))
    low, high = q.utc_bounds()
    assert low == dt.datetime(2026, 3, 28, 23, 0) and high == dt.datetime(2026, 3, 29, 22, 0)  # a 23-hour day


def test_previous_period_has_the_same_length_just_before():
    q = parse_query(1, "UTC", {"from": "2026-03-10", "to": "2026-03-16"}, now=NOW)
    prev = q.previous()
    assert (prev.start, prev.end) == (dt.date(2026, 3, 3), dt.date(2026, 3, 9))


def test_presets_and_params_round_trip():
    q = parse_query(1, "UTC", {"range": "7d", "country": " DE "}, filter_names=("country",), now=NOW)
    assert (q.start, q.end) == (dt.date(2026, 3, 23), dt.date(2026, 3, 29))
    again = parse_query(1, "UTC", q.params(), filter_names=("country",), now=NOW)
    assert again == q and q.filters == {"country": "DE"}


@pytest.mark.parametrize("params,field", [
    ({"from": "2026-13-01"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "2026-03-20", "to": "2026-03-10"}, "from"),
    ({"range": "forever"}, "range"),
    ({"from": "2000-01-01", "to": "2026-01-01"}, "from"),
])
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(QueryError) as info:
        parse_query(1, "UTC", params, now=NOW)
    assert info.value.field == field
