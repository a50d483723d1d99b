"""Users pages: list, create, change level and site grants, reset password, delete; own account."""

from __future__ import annotations

from typing import Any

import bottle

from core import accounts
from core.accounts import AccountError
from core.context import AppContext
from core.dashboard import user_rules
from core.dashboard.access import SESSION_COOKIE, cookie_secure, current_user
from core.dashboard.render import flash, render
from core.i18n import _
from core.models import Site, SiteAccess, User
from core.numbers import parse_whole
from core.passwords import password_problem
from core.permissions import ALL_SITES_LEVEL, LEVEL_NAMES, can_assign_level
from core.web import ApiError


def parse_level(raw: str | None) -> int:
    try:
        level = int((raw or "").strip())
    except ValueError:
        raise AccountError(_("Choose an access level.")) from None
    if level not in LEVEL_NAMES:
        raise AccountError(_("Access level must be between 0 and 5."))
    return level


def parse_site_ids(raw: list[str]) -> list[int]:
    try:
        ids = sorted({int(value) for value in raw})
    except ValueError:
        raise AccountError(_("Unknown site id: {ids}").format(ids=", ".join(raw))) from None
    known = {site.id for site in Site.select(Site.id).where(Site.id.in_(ids))} if ids else set()
    if set(ids) - known:
        raise AccountError(_("Unknown site id: {ids}").format(ids=", ".join(map(str, sorted(set(ids) - known)))))
    return ids


def level_choices(actor: User) -> list[tuple[int, str]]:
    return [(level, name) for level, name in sorted(LEVEL_NAMES.items(), reverse=True)
            if can_assign_level(actor.level, level)]


def granted_sites() -> dict[int, list[str]]:
    """user id -> domains granted, for the list page (one query, not one per user)."""
    grants: dict[int, list[str]] = {}
    for row in SiteAccess.select(SiteAccess.user, Site.domain).join(Site).order_by(Site.domain).dicts():
        grants.setdefault(row["user"], []).append(row["domain"])
    return grants


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    def list_page(values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                  status: int = 200) -> str:
        bottle.response.status = status
        actor = current_user()
        return render(ctx, "dashboard/users.html", users=list(User.select().order_by(User.username)),
                      grants=granted_sites(), sites=list(Site.select().order_by(Site.domain)),
                      levels=level_choices(actor), all_sites_level=ALL_SITES_LEVEL,
                      can_manage=lambda u: can_assign_level(actor.level, u.level),
                      values=values or {"username": "", "level": 0, "sites": []}, errors=errors or {})

    @app.get("/settings/users", permission="manage_users")
    def users_list() -> Any:
        return list_page()

    @app.post("/settings/users", permission="manage_users")
    def users_create() -> Any:
        forms = bottle.request.forms
        username = (forms.getunicode("username") or "").strip()
        password = forms.getunicode("password") or ""
        values: dict[str, Any] = {"username": username, "level": forms.getunicode("level") or "",
                                  "sites": forms.getall("sites")}
        errors: dict[str, str] = {}
        level, site_ids = 0, []
        try:
            accounts.validate_username(username)
        except AccountError as exc:
            errors["username"] = str(exc)
        problem = password_problem(password)
        if problem:
            errors["password"] = _(problem)
        try:
            level = parse_level(forms.getunicode("level"))
        except AccountError as exc:
            errors["level"] = str(exc)
        try:
            site_ids = parse_site_ids(forms.getall("sites"))
        except AccountError as exc:
            errors["sites"] = str(exc)
        if errors:
            return list_page(values, errors, 422)
        try:
            user = user_rules.create_user(current_user(), username, password, level, site_ids)
        except user_rules.NotAllowed as exc:
            return list_page(values, {"level": str(exc)}, 403)
        except AccountError as exc:  # the name is taken (checked inside, next to the insert)
            return list_page(values, {"username": str(exc)}, 422)
        flash(ctx, _("User {name} created.").format(name=user.username), "success")
        return bottle.redirect("/settings/users", 303)

    def target_user(user_id: int) -> User:
        user = User.get_or_none(User.id == user_id)
        if user is None:
            raise ApiError(404, "not_found", _("No such user."))
        return user

    def edit_page(target: User, errors: dict[str, str] | None = None, status: int = 200,
                  values: dict[str, Any] | None = None) -> str:
        bottle.response.status = status
        actor = current_user()
        granted = [a.site_id for a in SiteAccess.select().where(SiteAccess.user == target)]
        return render(ctx, "dashboard/user_edit.html", target=target,
                      sites=list(Site.select().order_by(Site.domain)), levels=level_choices(actor),
                      all_sites_level=ALL_SITES_LEVEL, editable=can_assign_level(actor.level, target.level),
                      values=values or {"level": target.level, "sites": granted}, errors=errors or {})

    @app.get("/settings/users/<user_id:int>", permission="manage_users")
    def user_edit(user_id: int) -> Any:
        return edit_page(target_user(user_id))

    @app.post("/settings/users/<user_id:int>", permission="manage_users")
    def user_update(user_id: int) -> Any:
        target = target_user(user_id)
        forms = bottle.request.forms
        values = {"level": forms.getunicode("level") or "", "sites": [n for n in map(parse_whole, forms.getall("sites"))
                                                                     if n is not None]}
        try:
            site_ids = parse_site_ids(forms.getall("sites"))
        except AccountError as exc:
            return edit_page(target, {"sites": str(exc)}, 422, values)
        try:
            level = parse_level(forms.getunicode("level"))
            user_rules.update_user(current_user(), target, level, site_ids)
        except user_rules.NotAllowed as exc:
            return edit_page(target, {"level": str(exc)}, 403, values)
        except AccountError as exc:
            return edit_page(target, {"level": str(exc)}, 422, values)
        flash(ctx, _("Access of {name} saved.").format(name=target.username), "success")
        return bottle.redirect(f"/settings/users/{target.id}", 303)

    @app.post("/settings/users/<user_id:int>/password", permission="manage_users")
    def user_password(user_id: int) -> Any:
        target = target_user(user_id)
        try:
            user_rules.reset_password(current_user(), target, bottle.request.forms.getunicode("password") or "")
        except user_rules.NotAllowed as exc:
            return edit_page(target, {"password": str(exc)}, 403)
        except AccountError as exc:
            return edit_page(target, {"password": str(exc)}, 422)
        flash(ctx, _("Password of {name} changed; their logins were ended.").format(name=target.username),
              "success")
        return bottle.redirect(f"/settings/users/{target.id}", 303)

    @app.post("/settings/users/<user_id:int>/delete", permission="manage_users")
    def user_delete(user_id: int) -> Any:
        target = target_user(user_id)
        try:
            user_rules.delete_user(current_user(), target)
        except user_rules.NotAllowed as exc:
            return edit_page(target, {"delete": str(exc)}, 403)
        except AccountError as exc:
            return edit_page(target, {"delete": str(exc)}, 422)
        flash(ctx, _("User {name} deleted.").format(name=target.username), "success")
        return bottle.redirect("/settings/users", 303)

    # --- own account ----------------------------------------------------------------------

    def account_page(errors: dict[str, str] | None = None, status: int = 200) -> str:
        bottle.response.status = status
        return render(ctx, "dashboard/account.html", errors=errors or {})

    @app.get("/settings/account", permission="own_account")
    def account() -> Any:
        return account_page()

    @app.post("/settings/account", permission="own_account")
    def account_password() -> Any:
        forms = bottle.request.forms
        user = current_user()
        current = forms.getunicode("current_password") or ""
        new, again = forms.getunicode("new_password") or "", forms.getunicode("new_password2") or ""
        if not accounts.authenticate(user.username, current):
            return account_page({"current_password": _("The current password is wrong.")}, 422)
        if new != again:
            return account_page({"new_password2": _("The two new passwords differ.")}, 422)
        try:
            accounts.set_password(user, new)  # also ends every login of this user, this one included
        except AccountError as exc:
            return account_page({"new_password": str(exc)}, 422)
        hours = ctx.settings["security.session_hours"]
        token, _session = accounts.start_login_session(user, hours)
        bottle.response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="Lax",
                                   secure=cookie_secure(ctx), max_age=hours * 3600)
        flash(ctx, _("Password changed. Your other logins were ended."), "success")
        return bottle.redirect("/settings/account", 303)

