"""Provisioning templates: list, edit, add, default, delete."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from hotdesk.admin import NotFound
from hotdesk.admin import templates as admin_templates
from hotdesk.brands import BRANDS
from hotdesk.web import db
from hotdesk.web.admin.base import (
    REFUSED,
    bp,
    refusals_flashed,
    templates_tenant,
)


@bp.get("/templates")
def templates():
    listing = admin_templates.listing(db(), tenant_id=templates_tenant())
    by_brand = {key: [t for t in listing if t.brand == key] for key in sorted(BRANDS)}
    return render_template("admin/templates.html", by_brand=by_brand, brands=BRANDS)


@bp.route("/templates/<brand>/<name>", methods=["GET", "POST"])
def template_edit(brand: str, name: str):
    session_ = db()
    try:
        template = admin_templates.get(session_, brand, name, tenant_id=templates_tenant())
    except NotFound as error:
        abort(404, str(error))
    if brand not in BRANDS:  # a template of a brand this version no longer has
        abort(404, f"no brand {brand!r}")
    if request.method == "GET":
        return render_template(
            "admin/template_form.html", template=template, brand=brand, name=name, body=template.body
        )
    body = request.form.get("body", "")
    try:
        admin_templates.save(session_, brand, name, body, g.actor, tenant_id=templates_tenant())
    except REFUSED as error:
        session_.rollback()
        return render_template(
            "admin/template_form.html", template=template, brand=brand, name=name, body=body, error=str(error)
        ), 422
    flash(f"Template {brand}/{name} saved.", "info")
    return redirect(url_for("admin.templates"))


@bp.route("/templates/new", methods=["GET", "POST"])
def template_new():
    brand = request.values.get("brand", "")
    if brand not in BRANDS:
        abort(404, f"no brand {brand!r}")
    session_ = db()
    if request.method == "GET":
        listing = admin_templates.listing(session_, brand, tenant_id=templates_tenant())
        default = next((t for t in listing if t.is_default), None)
        return render_template(
            "admin/template_form.html", template=None, brand=brand, name="", body=default.body if default else ""
        )
    name, body = request.form.get("name", "").strip(), request.form.get("body", "")
    try:
        admin_templates.save(session_, brand, name, body, g.actor, create_only=True, tenant_id=templates_tenant())
    except REFUSED as error:
        session_.rollback()
        return render_template(
            "admin/template_form.html", template=None, brand=brand, name=name, body=body, error=str(error)
        ), 422
    flash(f"Template {brand}/{name} added.", "info")
    return redirect(url_for("admin.templates"))


@bp.post("/templates/<brand>/<name>/default")
@refusals_flashed
def template_default(brand: str, name: str):
    admin_templates.set_default(db(), brand, name, g.actor, tenant_id=templates_tenant())
    flash(f"{brand}/{name} is now the default {BRANDS[brand].label} template.", "info")
    return redirect(url_for("admin.templates"))


@bp.post("/templates/<brand>/<name>/delete")
@refusals_flashed
def template_delete(brand: str, name: str):
    admin_templates.delete(db(), brand, name, g.actor, tenant_id=templates_tenant())
    flash(f"Template {brand}/{name} deleted.", "info")
    return redirect(url_for("admin.templates"))
