"""Phones: who is where, force logout, devices and their admission, pins, lockouts."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from hotdesk.admin import lockouts, phones, pins
from hotdesk.admin import templates as admin_templates
from hotdesk.web import db, hotdesk, tenant_id
from hotdesk.web.admin.base import (
    LIVE_POLL_SECONDS,
    REFUSED,
    bp,
    csv_import,
    local_url,
    refusals_flashed,
    templates_tenant,
)


@bp.get("/mappings")
def mappings():
    session_ = db()
    search = request.args.get("q", "")
    return render_template(
        "admin/mappings.html",
        seats=phones.who_is_where(session_, search, tenant_id=tenant_id()),
        marker=phones.live_marker(session_, tenant_id=tenant_id()),
        search=search,
        pins=pins.listing(session_, tenant_id=tenant_id()),
        templates=admin_templates.listing(session_, tenant_id=templates_tenant()),
        poll_seconds=LIVE_POLL_SECONDS,
    )


@bp.get("/mappings/live")
def mappings_live():
    """The live table alone, for the page's script; 204 while nobody logged in or out since `marker`."""
    session_ = db()
    marker = phones.live_marker(session_, tenant_id=tenant_id())
    if request.args.get("marker") == str(marker):
        return Response(status=204)
    seats = phones.who_is_where(session_, request.args.get("q", ""), tenant_id=tenant_id())
    html = render_template("admin/_seats.html", seats=seats, marker=marker)
    return Response(html, content_type="text/html; charset=utf-8")


@bp.post("/mappings/<mac>/logout")
@refusals_flashed
def force_logout(mac: str):
    done = phones.force_logout(db(), hotdesk().settings, hotdesk().notifier, mac, g.actor, tenant_id=tenant_id())
    extension = done.extension
    flash(f"{extension.number} logged out of {mac}." if extension else f"Nobody was logged in on {mac}.", "info")
    back = request.form.get("next")
    return redirect(local_url(back) or url_for("admin.mappings"))


@bp.get("/devices")
def devices():
    search = request.args.get("q", "")
    session_ = db()
    try:
        page = phones.devices_page(
            session_, search=search, after=request.args.get("after") or None, tenant_id=tenant_id()
        )
    except REFUSED as error:
        abort(400, str(error))
    return render_template(
        "admin/devices.html",
        page=page,
        search=search,
        waiting=phones.waiting(session_, tenant_id=tenant_id()),
        waiting_count=phones.waiting_count(session_, tenant_id=tenant_id()),
        admission=hotdesk().settings.get(session_, "device_admission", tenant_id()),
        lockouts=lockouts.listing(session_, hotdesk().settings, tenant_id=tenant_id()),
    )


@bp.post("/devices")
@refusals_flashed
def device_add():
    device = phones.add_known(
        db(), request.form.get("mac", ""), g.actor, request.form.get("address") or None, tenant_id=tenant_id()
    )
    where = f"from {device.admitted_address}" if device.admitted_address else "from any address"
    flash(f"{device.mac} is admitted: its own credentials go to its next fetch {where}.", "info")
    return redirect(url_for("admin.devices"))


@bp.route("/devices/import", methods=["GET", "POST"])
def devices_import():
    def done(imported: phones.KnownImport) -> str:
        flash(f"{len(imported.changed)} phone(s) added or admitted.", "info")
        return url_for("admin.devices")

    return csv_import("admin/devices_import.html", phones.preview_known, phones.import_known, done)


@bp.post("/devices/<mac>/admit")
@refusals_flashed
def device_admit(mac: str):
    # The form carries the address the admin saw on the page: admitted is what they saw.
    device = phones.admit(db(), mac, g.actor, request.form.get("address") or None, tenant_id=tenant_id())
    where = f"from {device.admitted_address}" if device.admitted_address else "from any address"
    flash(f"{device.mac} is admitted: its own credentials go to its next fetch {where}.", "info")
    return redirect(url_for("admin.devices", q=request.form.get("q") or None))


@bp.post("/devices/admit-waiting")
@refusals_flashed
def devices_admit_waiting():
    admitted = phones.admit_all_waiting(db(), g.actor, tenant_id=tenant_id())
    flash(f"{len(admitted)} waiting phone(s) admitted, each at the address it was seen at.", "info")
    return redirect(url_for("admin.devices"))


@bp.post("/devices/<mac>/reset-credentials")
@refusals_flashed
def reset_credentials(mac: str):
    device = phones.reset_credentials(db(), mac, g.actor, tenant_id=tenant_id())
    flash(f"{device.mac}: its own credentials are withdrawn; it is issued new ones at its next fetch.", "info")
    return redirect(url_for("admin.devices", q=request.form.get("q") or None))


@bp.route("/devices/<mac>/login", methods=["GET", "POST"])
@refusals_flashed
def device_login(mac: str):
    """Log an extension in on a phone without its PIN: how Digium D phones (no login app) get a user."""
    device = phones.device(db(), mac, tenant_id())
    if request.method == "POST":
        number = request.form.get("extension", "")
        address = request.form.get("address", "")
        made = phones.login(
            db(), hotdesk().settings, hotdesk().notifier, mac, number, address, g.actor, tenant_id=tenant_id()
        )
        displaced = "".join(f" {made.extension.number} was logged out of {other.mac}." for other in made.logged_out)
        flash(
            f"{made.extension.number} logged in on {made.device.mac}; the phone is told to reload.{displaced}", "info"
        )
        return redirect(url_for("admin.devices", q=made.device.mac))
    return render_template("admin/device_login.html", device=device)


@bp.post("/lockouts/unlock")
@refusals_flashed
def unlock():
    what = lockouts.unlock(
        db(),
        g.actor,
        extension=request.form.get("extension") or None,
        mac=request.form.get("mac") or None,
        tenant_id=tenant_id(),
    )
    flash(f"{what.capitalize()} unlocked.", "info")
    return redirect(url_for("admin.devices"))


@bp.post("/pins")
@refusals_flashed
def pin():
    number = request.form.get("extension", "").strip()
    reference = request.form.get("template", "")
    pins.pin(db(), number, reference, g.actor, tenant_id=tenant_id())
    flash(f"{number} pinned to {reference}.", "info")
    return redirect(url_for("admin.mappings"))


@bp.post("/pins/<number>/<brand>/delete")
@refusals_flashed
def unpin(number: str, brand: str):
    pins.unpin(db(), number, brand, g.actor, tenant_id=tenant_id())
    flash(f"{number} unpinned from its {brand} template.", "info")
    return redirect(url_for("admin.mappings"))
