"""parse_whole: the one parser for ids, counts and sizes that people and clients send."""

import pytest

from core.numbers import MAX_ID, parse_whole


@pytest.mark.parametrize("text,expected", [
    ("0", 0), ("42", 42), (" 7 ", 7), (12, 12), ("999999999999999999", MAX_ID),
    ("", None), (None, None), ("-1", None), ("1.5", None), ("1e3", None), ("²", None), ("١٢", None),
    ("9223372036854775808", None), ("0x10", None), ("12a", None),
])
def test_parse_whole(text, expected):
    assert parse_whole(text) == expected


def test_maximum_is_inclusive():
    assert parse_whole("65535", 65535) == 65535 and parse_whole("65536", 65535) is None
