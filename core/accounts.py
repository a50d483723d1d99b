"""User accounts, login sessions and API tokens: the rules, independent of HTTP.

Used alike by the installer, the CLI, the dashboard and the REST API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

import peewee

from core.i18n import _
from core.models import ApiToken, LoginSession, Site, SiteAccess, User, utcnow
from core.passwords import DUMMY_HASH, hash_password, password_problem, verify_password
from core.permissions import ALL_SITES_LEVEL, ROOT

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
TOKEN_PREFIX = "uxw_"


class AccountError(ValueError):
    """A rule was broken; the message is fit to show the person who asked."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def validate_username(username: str) -> str:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise AccountError(_("User name must be 1-64 letters, digits or . _ @ - characters."))
    return username


def create_user(username: str, password: str, level: int, site_ids: list[int] | None = None) -> User:
    username = validate_username(username)
    problem = password_problem(password or "")
    if problem:
        raise AccountError(_(problem))
    if level not in range(0, 6):
        raise AccountError(_("Access level must be between 0 and 5."))
    if User.select().where(User.username == username).exists():
        raise AccountError(_("A user with that name already exists."))
    with User._meta.database.atomic():
        user = User.create(username=username, password_hash=hash_password(password), level=level)
        set_site_access(user, site_ids or [])
    return user


def set_site_access(user: User, site_ids: list[int]) -> None:
    existing = {site.id for site in Site.select(Site.id).where(Site.id.in_(site_ids))} if site_ids else set()
    unknown = set(site_ids) - existing
    if unknown:
        raise AccountError(_("Unknown site id: {ids}").format(ids=", ".join(map(str, sorted(unknown)))))
    SiteAccess.delete().where(SiteAccess.user == user).execute()
    for site_id in sorted(existing):
        SiteAccess.create(user=user, site=site_id)


def set_password(user: User, password: str) -> None:
    problem = password_problem(password or "")
    if problem:
        raise AccountError(_(problem))
    user.password_hash = hash_password(password)
    user.save()
    # A new password ends every existing login of that user.
    LoginSession.delete().where(LoginSession.user == user).execute()


def authenticate(username: str, password: str) -> User | None:
    user = User.get_or_none(User.username == (username or "").strip())
    if user is None:
        verify_password(password or "", DUMMY_HASH)  # same work either way
        return None
    return user if verify_password(password or "", user.password_hash) else None


def count_roots() -> int:
    return User.select().where(User.level == ROOT).count()


def visible_sites(user: User) -> peewee.ModelSelect:
    query = Site.select().order_by(Site.domain)
    if user.level >= ALL_SITES_LEVEL:
        return query
    return query.join(SiteAccess).where(SiteAccess.user == user)


def can_see_site(user: User, site_id: int) -> bool:
    if user.level >= ALL_SITES_LEVEL:
        return Site.select().where(Site.id == site_id).exists()
    return SiteAccess.select().where((SiteAccess.user == user) & (SiteAccess.site == site_id)).exists()


# --- login sessions -------------------------------------------------------------------------

def start_login_session(user: User, hours: int) -> tuple[str, LoginSession]:
    """Returns the cookie value (shown once) and the stored session."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = LoginSession.create(
        token_hash=_sha256(token),
        user=user,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + dt.timedelta(hours=hours),
    )
    user.last_login_at = now
    user.save(only=[User.last_login_at])
    return token, session


def find_login_session(token: str) -> LoginSession | None:
    if not token or len(token) > 200:
        return None
    session = (
        LoginSession.select(LoginSession, User)
        .join(User)
        .where(LoginSession.token_hash == _sha256(token))
        .first()
    )
    if session is None or session.expires_at < utcnow():
        return None
    return session


def end_login_session(token: str) -> None:
    if token:
        LoginSession.delete().where(LoginSession.token_hash == _sha256(token)).execute()


def purge_expired_login_sessions() -> int:
    return LoginSession.delete().where(LoginSession.expires_at < utcnow()).execute()


# --- API tokens -----------------------------------------------------------------------------

def create_api_token(user: User, name: str) -> tuple[str, ApiToken]:
    """Returns the token text (shown once; only its hash is stored) and the row."""
    name = (name or "").strip() or "API token"
    if len(name) > 100:
        raise AccountError(_("Token name must be at most 100 characters."))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.create(user=user, name=name, token_hash=_sha256(token), prefix=token[:10])
    return token, row


def user_for_api_token(token: str) -> User | None:
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = ApiToken.select(ApiToken, User).join(User).where(ApiToken.token_hash == _sha256(token)).first()
    if row is None:
        return None
    now = utcnow()
    # Touch last_used_at at most once a minute: a token used per request should not write per request.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
    return row.user
