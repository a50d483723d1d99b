"""The dashboard menu: built-in links plus those plugins add, filtered by the user's level."""

from __future__ import annotations

from dataclasses import dataclass

from core.i18n import _
from core.models import User
from core.permissions import allows


@dataclass(frozen=True)
class MenuLink:
    label: str
    href: str
    permission: str = "view"
    order: int = 100


BUILTIN_LINKS = [
    MenuLink(_("Sites"), "/", "view", 10),
    MenuLink(_("Users"), "/settings/users", "manage_users", 80),
    MenuLink(_("API tokens"), "/settings/tokens", "own_account", 90),
]


def build_menu(extra: list[MenuLink]):  # type: ignore[no-untyped-def]
    links = sorted([*BUILTIN_LINKS, *extra], key=lambda link: (link.order, link.label))

    def for_user(user: User) -> list[MenuLink]:
        return [link for link in links if allows(user.level, link.permission)]

    return for_user
