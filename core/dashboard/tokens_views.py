"""API tokens page: create a token (its text is shown once), list and revoke tokens."""

from __future__ import annotations

from typing import Any

import bottle

from core import accounts
from core.accounts import AccountError
from core.context import AppContext
from core.dashboard import user_rules
from core.dashboard.access import current_user
from core.dashboard.base_url import base_url
from core.dashboard.render import flash, render
from core.i18n import _
from core.models import ApiToken, User
from core.web import ApiError


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    def tokens_page(new_token: str | None = None, errors: dict[str, str] | None = None,
                    name: str = "", status: int = 200) -> str:
        bottle.response.status = status
        actor = current_user()
        # The page itself must never be cached: it may carry a token shown only this once.
        bottle.response.set_header("Cache-Control", "no-store")
        return render(ctx, "dashboard/tokens.html", tokens=user_rules.tokens_visible_to(actor),
                      can_revoke=lambda token: user_rules.can_revoke(actor, token), new_token=new_token,
                      errors=errors or {}, name=name, base_url=base_url(ctx))

    @app.get("/settings/tokens", permission="own_account")
    def tokens() -> Any:
        return tokens_page()

    @app.post("/settings/tokens", permission="own_account")
    def token_create() -> Any:
        name = (bottle.request.forms.getunicode("name") or "").strip()
        try:
            token, _row = accounts.create_api_token(current_user(), name)
        except AccountError as exc:
            return tokens_page(errors={"name": str(exc)}, name=name, status=422)
        # Rendered straight away, not after a redirect: the token must not travel in a cookie or URL.
        return tokens_page(new_token=token, status=201)

    @app.post("/settings/tokens/<token_id:int>/revoke", permission="own_account")
    def token_revoke(token_id: int) -> Any:
        actor = current_user()
        token = ApiToken.select(ApiToken, User).join(User).where(ApiToken.id == token_id).first()
        if token is None or not user_rules.can_revoke(actor, token):
            raise ApiError(404, "not_found", _("No such token."))
        token.delete_instance()
        flash(ctx, _("Token {name} revoked.").format(name=token.name), "success")
        return bottle.redirect("/settings/tokens", 303)
