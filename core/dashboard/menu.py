"""The dashboard menu: built-in links plus those plugins add, filtered by the user's level."""

from __future__ import annotations

from collections.abc import Callable
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
    MenuLink(_("Plugins"), "/settings/plugins", "manage_sites", 85),
    MenuLink(_("API tokens"), "/settings/tokens", "own_account", 90),
    MenuLink(_("Account"), "/settings/account", "own_account", 95),
]


def build_menu(links: list[MenuLink]) -> Callable[[User], list[MenuLink]]:
    """The top menu: every link from every plugin (built-ins included), ordered, filtered by level."""
    links = sorted(dict.fromkeys(links), key=lambda link: (link.order, link.label))

    def for_user(user: User) -> list[MenuLink]:
        return [link for link in links if allows(user.level, link.permission)]

    return for_user


@dataclass(frozen=True)
class SiteNavLink:
    """A tab on every site page: `/sites/<id>/<suffix>`. Views add theirs to ctx.services["site_nav"]."""

    label: str
    suffix: str
    permission: str = "view"
    order: int = 100

    def href(self, site_id: int) -> str:
        """A suffix starting with "/" is an absolute path with {site_id} filled in (plugin pages)."""
        if self.suffix.startswith("/"):
            return self.suffix.replace("{site_id}", str(site_id))
        return f"/sites/{site_id}/{self.suffix}".rstrip("/")


def site_nav_for(links: list[SiteNavLink], user: User, site_id: int) -> list[dict[str, str]]:
    ordered = sorted(links, key=lambda link: (link.order, link.label))
    return [
        {"label": link.label, "href": link.href(site_id)}
        for link in ordered
        if allows(user.level, link.permission)
    ]
