"""The history: filtered, paged, exported."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    render_template,
    request,
)

from hotdesk.admin import AdminError, Page, history
from hotdesk.web import db, tenant_id
from hotdesk.web.admin.base import (
    bp,
    csv_download,
)


def _parsed_filters() -> history.Filters:
    """The filters asked for (an empty form field means "any"); AdminError naming a bad one."""
    return history.Filters.parse(
        **{name: request.args.get(name) or None for name in ("extension", "mac", "kind", "since", "until")}
    )


def _history_filters() -> history.Filters:
    try:
        return _parsed_filters()
    except AdminError as error:
        abort(400, str(error))


@bp.get("/history")
def history_view():
    query = {k: v for k, v in request.args.items() if k != "before" and v}
    try:
        page = history.page(db(), _parsed_filters(), before=request.args.get("before") or None, tenant_id=tenant_id())
    except AdminError as error:  # the page again, with the filters as typed, to correct them
        flash(str(error), "error")
        return render_template(
            "admin/history.html", page=Page([], None), args=request.args, query=query, kinds=history.KINDS
        ), 400
    return render_template("admin/history.html", page=page, args=request.args, query=query, kinds=history.KINDS)


@bp.get("/history/export.csv")
def history_export():
    return csv_download(history.export_csv(db(), _history_filters(), tenant_id=tenant_id()), "history.csv")
