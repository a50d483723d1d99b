"""Goals (conversions) and A/B tests with their variants.

A goal is met by a session that visited a page (path pattern), fired an event or carries a tag.
An A/B test has variants, each a weight and a list of element changes (validated by
`core.experiments.rules`); only running tests are published in `/server/ab/<domain>.ab.js`, and a
visitor's variant comes back as the session tag `AB-<test id>-<variant key>`.
"""

from __future__ import annotations

import peewee

from .base import BaseModel, JSONField
from .site import Site

GOAL_KINDS = ("page", "event", "tag")
TEST_STATUSES = ("draft", "running", "stopped")


class Goal(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", backref="goals")
    name = peewee.CharField(max_length=100)
    kind = peewee.CharField(max_length=8)  # one of GOAL_KINDS
    path = peewee.CharField(max_length=512, default="")  # kind page: path, `*` wildcards
    category = peewee.CharField(max_length=128, default="")  # kind event
    action = peewee.CharField(max_length=128, default="")  # kind event; "" = any action
    tag = peewee.CharField(max_length=128, default="")  # kind tag
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "goals"


class AbTest(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", backref="ab_tests")
    name = peewee.CharField(max_length=100)
    status = peewee.CharField(max_length=8, default="draft")  # one of TEST_STATUSES
    page = peewee.CharField(max_length=512, default="")  # path pattern the test runs on; "" = every page
    goal = peewee.ForeignKeyField(Goal, on_delete="SET NULL", null=True)  # the default goal for results
    created_at = peewee.DateTimeField()
    started_at = peewee.DateTimeField(null=True)
    stopped_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "ab_tests"
        indexes = ((("site", "status"), False),)


class AbVariant(BaseModel):
    test = peewee.ForeignKeyField(AbTest, on_delete="CASCADE", backref="variants", index=False)
    # Random, unique per test, never reused: the tag AB-<test id>-<key> must not match sessions of a
    # deleted variant (SQLite hands a deleted row's id out again).
    key = peewee.CharField(max_length=16)
    name = peewee.CharField(max_length=100)
    position = peewee.SmallIntegerField()  # 0 is the control
    weight = peewee.SmallIntegerField()  # 0-100, relative to the other variants
    changes = JSONField()  # [{"selector", "text"?, "styles"?, "attributes"?}]

    class Meta:
        table_name = "ab_variants"
        indexes = ((("test", "position"), False), (("test", "key"), True))


EXPERIMENT_MODELS: list[type[BaseModel]] = [Goal, AbTest, AbVariant]
