"""Sites, dashboard users, per-site access, login sessions, API tokens, key/value settings.

The models below are frozen copies of the schema as of this migration: later model changes
arrive as new migrations, never as edits here.
"""

import peewee
from playhouse.migrate import SchemaMigrator

from core.migrations import frozen_base
from core.models.base import JSONField


def up(db: peewee.Database, migrator: SchemaMigrator) -> None:
    Base = frozen_base(db)

    class Site(Base):
        domain = peewee.CharField(max_length=253, unique=True)
        name = peewee.CharField(max_length=200, default="")
        timezone = peewee.CharField(max_length=64, default="UTC")
        settings = JSONField()
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "sites"

    class User(Base):
        username = peewee.CharField(max_length=64, unique=True)
        password_hash = peewee.CharField(max_length=255)
        level = peewee.SmallIntegerField()
        created_at = peewee.DateTimeField()
        last_login_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "users"

    class SiteAccess(Base):
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")
        site = peewee.ForeignKeyField(Site, on_delete="CASCADE")

        class Meta:
            table_name = "site_access"
            indexes = ((("user", "site"), True),)

    class LoginSession(Base):
        token_hash = peewee.CharField(max_length=64, unique=True)
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")
        csrf_token = peewee.CharField(max_length=64)
        created_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField(index=True)

        class Meta:
            table_name = "login_sessions"

    class ApiToken(Base):
        user = peewee.ForeignKeyField(User, on_delete="CASCADE")
        name = peewee.CharField(max_length=100)
        token_hash = peewee.CharField(max_length=64, unique=True)
        prefix = peewee.CharField(max_length=16)
        created_at = peewee.DateTimeField()
        last_used_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "api_tokens"

    class KeyValue(Base):
        key = peewee.CharField(max_length=191, primary_key=True)
        value = JSONField(null=True)

        class Meta:
            table_name = "key_values"

    db.create_tables([Site, User, SiteAccess, LoginSession, ApiToken, KeyValue])
