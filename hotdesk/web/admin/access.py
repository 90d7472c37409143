"""Access: console admins and API tokens (as `hotdesk admins` and `hotdesk tokens`)."""

from __future__ import annotations

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from hotdesk import tenancy
from hotdesk.admin import accounts
from hotdesk.web import db
from hotdesk.web.admin.base import (
    acting_tenant,
    bp,
    is_manager,
    refusals_flashed,
)

# access: console admins and API tokens (as `hotdesk admins` and `hotdesk tokens`). A tenant manager
# manages the managers and tokens of their own tenant: a customer's IT adds a colleague or an
# integration's token without asking the operator, and whatever they make is bound to their tenant
# (it can reach nothing they cannot). System admins and tokens, and other tenants', they never see.


def _access_page(new_token: accounts.NewToken | None = None, status: int = 200):
    session_ = db()
    tokens = accounts.tokens(session_, acting_tenant())
    return render_template(
        "admin/access.html",
        admins=accounts.admins(session_, acting_tenant()),
        tokens=tokens,
        expired={token.name for token in tokens if accounts.token_expired(token)},
        tenant_names={tenant.id: tenant.name for tenant in tenancy.listing(session_)},
        scopes=accounts.SCOPES,
        default_scopes=accounts.DEFAULT_SCOPES,
        new_token=new_token,
    ), status


def _new_account_tenant() -> int | None:
    """The tenant a new admin or token belongs to: a manager's own; a system admin's choice (none: system)."""
    if is_manager():
        return g.admin.tenant_id
    name = request.form.get("tenant", "").strip()
    return tenancy.by_name(db(), name).id if name else None


@bp.get("/access")
def access():
    return _access_page()


@bp.post("/access/admins")
@refusals_flashed
def admin_add():
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    accounts.add_admin(
        db(),
        accounts.check_name(name),
        password,
        g.actor,
        tenant_id=_new_account_tenant(),
        email=request.form.get("email", ""),
        two_factor=request.form.get("two_factor") == "on",
    )
    flash(f"Admin {name} added.", "info")
    return redirect(url_for("admin.access"))


@bp.post("/access/admins/<name>/sign-in")
@refusals_flashed
def admin_sign_in(name: str):
    """The admin's e-mail address and whether their sign-in asks for an access code sent there."""
    admin = accounts.set_sign_in(
        db(),
        name,
        g.actor,
        email=request.form.get("email", ""),
        two_factor=request.form.get("two_factor") == "on",
        within=acting_tenant(),
    )
    how = f"an access code sent to {admin.email}" if admin.two_factor else "the password alone"
    flash(f"Admin {name} signs in with {how}.", "info")
    return redirect(url_for("admin.access"))


@bp.post("/access/admins/<name>/password")
@refusals_flashed
def admin_password(name: str):
    accounts.set_password(db(), name, request.form.get("password", ""), g.actor, within=acting_tenant())
    flash(f"Password of {name} changed; its open sessions have ended.", "info")
    return redirect(url_for("admin.access"))


@bp.post("/access/admins/<name>/remove")
@refusals_flashed
def admin_remove(name: str):
    accounts.remove_admin(db(), name, g.actor, within=acting_tenant())
    flash(f"Admin {name} removed.", "info")
    return redirect(url_for("admin.access"))


@bp.post("/access/tokens")
@refusals_flashed
def token_create():
    expires = request.form.get("expires", "").strip()
    made = accounts.create_token(
        db(),
        request.form.get("name", "").strip(),
        g.actor,
        scopes=request.form.getlist("scope"),
        expires_at=accounts.parse_expiry(expires) if expires else None,
        tenant_id=_new_account_tenant(),
    )
    # Shown in this answer only: a redirect would carry it in the (signed, not secret) session cookie.
    return _access_page(new_token=made)


@bp.post("/access/tokens/<name>/revoke")
@refusals_flashed
def token_revoke(name: str):
    accounts.revoke_token(db(), name, g.actor, within=acting_tenant())
    flash(f"Token {name} revoked.", "info")
    return redirect(url_for("admin.access"))
