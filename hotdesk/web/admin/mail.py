"""Mail: the tenant's mails and how each went, a retry, a test mail."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from hotdesk.admin import mail
from hotdesk.mail.options import SMTP_HOST
from hotdesk.settings import PHONE_BASE_URL
from hotdesk.web import db, settings, tenant_id
from hotdesk.web.admin.base import bp, refusals_flashed


@bp.get("/mail")
def mail_view():
    values = settings()
    return render_template(
        "admin/mail.html",
        mails=mail.mails(db(), tenant_id=tenant_id()),
        smtp_host=values[SMTP_HOST],
        phone_base_url=values[PHONE_BASE_URL],
    )


@bp.post("/mail/<int:mail_id>/retry")
@refusals_flashed
def mail_retry(mail_id: int):
    view = mail.retry(db(), mail_id, g.actor, tenant_id=tenant_id())
    flash(f"Mail {view.id} to {view.recipient} goes again within seconds.", "info")
    return redirect(url_for("admin.mail_view"))


@bp.post("/mail/test")
@refusals_flashed
def mail_test():
    view = mail.send_test(db(), request.form.get("recipient", ""), g.actor, tenant_id=tenant_id())
    flash(f"Test mail {view.id} to {view.recipient} queued: its outcome shows below within seconds.", "info")
    return redirect(url_for("admin.mail_view"))
