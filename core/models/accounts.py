"""Dashboard users, their per-site access, login sessions and API tokens."""

from __future__ import annotations

import peewee

from .base import BaseModel, utcnow
from .site import Site


class User(BaseModel):
    username = peewee.CharField(max_length=64, unique=True)
    password_hash = peewee.CharField(max_length=255)
    level = peewee.SmallIntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)
    last_login_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "users"


class SiteAccess(BaseModel):
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="site_access")
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE", backref="user_access")

    class Meta:
        table_name = "site_access"
        indexes = ((("user", "site"), True),)


class LoginSession(BaseModel):
    """A server-side login: the cookie holds a random token whose hash is stored here."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="login_sessions")
    csrf_token = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(index=True)

    class Meta:
        table_name = "login_sessions"


class ApiToken(BaseModel):
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="api_tokens")
    name = peewee.CharField(max_length=100)
    token_hash = peewee.CharField(max_length=64, unique=True)
    prefix = peewee.CharField(max_length=16)
    created_at = peewee.DateTimeField(default=utcnow)
    last_used_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "api_tokens"
