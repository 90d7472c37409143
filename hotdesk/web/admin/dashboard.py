"""The console's first page: counts and who waits."""

from __future__ import annotations

from flask import (
    render_template,
)

from hotdesk.admin import extensions as admin_extensions
from hotdesk.admin import history, phones
from hotdesk.admin import templates as admin_templates
from hotdesk.web import db, tenant_id
from hotdesk.web.admin.base import (
    bp,
    templates_tenant,
)


@bp.get("/")
def dashboard():
    session_ = db()
    return render_template(
        "admin/dashboard.html",
        extensions=admin_extensions.count(session_, tenant_id=tenant_id()),
        logged_in=phones.logged_in_count(session_, tenant_id=tenant_id()),
        recent=history.page(session_, history.Filters(), limit=15, tenant_id=tenant_id()).items,
        brands=admin_templates.listing(session_, tenant_id=templates_tenant()),
    )
