"""Who may create, change or delete which dashboard user: the rules, without HTTP.

Admins manage users below root, only root manages root users, nobody deletes or demotes
themselves, and the last root user always stays.
"""

from __future__ import annotations

from core import accounts
from core.accounts import AccountError
from core.i18n import _
from core.models import ApiToken, User
from core.permissions import ALL_SITES_LEVEL, ROOT, allows, can_assign_level


class NotAllowed(AccountError):
    """The actor's level forbids this (403), as opposed to bad input (422)."""


def check_can_manage(actor: User, target: User) -> None:
    if not can_assign_level(actor.level, target.level):
        raise NotAllowed(_("Only a root user can change a root user."))


def create_user(actor: User, username: str, password: str, level: int, site_ids: list[int]) -> User:
    if not can_assign_level(actor.level, level):
        raise NotAllowed(_("Only a root user can create root users."))
    # Levels that see every site need no grants; keeping none avoids stale grants on demotion.
    return accounts.create_user(username, password, level, site_ids if level < ALL_SITES_LEVEL else [])


def update_user(actor: User, target: User, level: int, site_ids: list[int]) -> None:
    check_can_manage(actor, target)
    if level not in range(0, 6):
        raise AccountError(_("Access level must be between 0 and 5."))
    if not can_assign_level(actor.level, level):
        raise NotAllowed(_("Only a root user can make a user root."))
    if actor.id == target.id and level < target.level:
        raise AccountError(_("You cannot lower your own access level."))
    if target.level == ROOT and level < ROOT and accounts.count_roots() <= 1:
        raise AccountError(_("The last root user cannot be demoted."))
    with User._meta.database.atomic():
        User.update(level=level).where(User.id == target.id).execute()
        target.level = level
        accounts.set_site_access(target, site_ids if level < ALL_SITES_LEVEL else [])


def reset_password(actor: User, target: User, password: str) -> None:
    check_can_manage(actor, target)
    if actor.id == target.id:
        raise AccountError(_("Change your own password on your account page; it asks for the current one."))
    accounts.set_password(target, password)


def delete_user(actor: User, target: User) -> None:
    check_can_manage(actor, target)
    if actor.id == target.id:
        raise AccountError(_("You cannot delete your own account."))
    if target.level == ROOT and accounts.count_roots() <= 1:
        raise AccountError(_("The last root user cannot be deleted."))
    target.delete_instance()  # login sessions, tokens and site grants cascade


def tokens_visible_to(actor: User) -> list[ApiToken]:
    """Own tokens for everyone; admins also see the tokens of users they manage."""
    query = ApiToken.select(ApiToken, User).join(User).order_by(User.username, ApiToken.created_at.desc())
    if allows(actor.level, "manage_users"):
        if actor.level < ROOT:
            query = query.where((User.level < ROOT) | (User.id == actor.id))
        return list(query)
    return list(query.where(ApiToken.user == actor.id))


def can_revoke(actor: User, token: ApiToken) -> bool:
    if token.user_id == actor.id:
        return True
    return allows(actor.level, "manage_users") and can_assign_level(actor.level, token.user.level)
