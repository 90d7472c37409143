"""Tenants: a system admin's page."""

from __future__ import annotations

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from hotdesk import tenancy
from hotdesk.models import DEFAULT_TENANT_ID
from hotdesk.web import db, hotdesk
from hotdesk.web.admin.base import (
    CHOSEN_TENANT,
    bp,
    refusals_flashed,
    system_only,
)

# tenants: a system admin's (a tenant manager is answered 404, as for a page that does not exist)


@bp.post("/tenant")
@refusals_flashed
def tenant_switch():
    """The tenant a system admin's pages act for from now on (the header's choice)."""
    system_only()
    chosen = tenancy.by_name(db(), request.form.get("tenant", "").strip() or None)
    session[CHOSEN_TENANT] = chosen.id
    flash(f"Acting for tenant {chosen.name}.", "info")
    return redirect(url_for("admin.dashboard"))


def _tenants_page(made: tenancy.NewTenant | None = None, status: int = 200):
    return render_template(
        "admin/tenants.html", tenants=tenancy.listing_with_counts(db()), made=made, default_id=DEFAULT_TENANT_ID
    ), status


@bp.get("/tenants")
def tenants():
    system_only()
    return _tenants_page()


@bp.post("/tenants")
@refusals_flashed
def tenant_add():
    system_only()
    made = tenancy.add(
        db(), hotdesk().settings, request.form.get("name", ""), request.form.get("sip_domain", ""), g.actor
    )
    # The provisioning password in this answer only (as a new token's): `settings` shows it again.
    return _tenants_page(made=made)


@bp.post("/tenants/<name>/remove")
@refusals_flashed
def tenant_remove(name: str):
    system_only()
    tenancy.remove(db(), name, g.actor)
    flash(f"Tenant {name} removed.", "info")
    return redirect(url_for("admin.tenants"))
