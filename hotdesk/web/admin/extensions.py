"""Extensions: list, add, edit, delete, import, export, weak secrets and PINs."""

from __future__ import annotations

from functools import partial

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from hotdesk import people, policy
from hotdesk.admin import NotFound, pbx, users
from hotdesk.admin import extensions as admin_extensions
from hotdesk.directory import ExtensionData
from hotdesk.settings import PIN_LENGTH, SECRET_POLICY, SecretPolicy
from hotdesk.web import app_base_url, db, tenant_id
from hotdesk.web import settings as setting_values
from hotdesk.web.admin.apps import softphone_panel
from hotdesk.web.admin.base import (
    REFUSED,
    bp,
    csv_download,
    csv_import,
    refusals_flashed,
    tell_notified,
)


@bp.get("/extensions")
def extensions():
    search = request.args.get("q", "")
    try:
        page = admin_extensions.page(
            db(), search=search, after=request.args.get("after") or None, tenant_id=tenant_id()
        )
    except REFUSED as error:
        abort(400, str(error))
    return render_template("admin/extensions.html", page=page, search=search)


def _extension_form(extension, form, error: str | None = None, status: int = 200):
    values = setting_values()
    user = extension.user if extension else None
    return render_template(
        "admin/extension_form.html",
        extension=extension,
        form=form,
        error=error,
        user=user,  # its account: LOGIN, and the generated password until the user changes it
        login=users.login_of(db(), user) if user else None,
        pending_password=people.pending_password(user),
        strong_secrets=values[SECRET_POLICY] is SecretPolicy.STRONG,
        pin_length=values[PIN_LENGTH],
        specials=" ".join(policy.SPECIALS),
        softphone=softphone_panel(user) if user else None,
    ), status


@bp.get("/secrets/generate")
def secret_generate():
    """A new secret that meets the strong policy, for the key button of the extension form (JSON)."""
    return {"secret": policy.generate_secret()}


@bp.route("/extensions/new", methods=["GET", "POST"])
def extension_new():
    if request.method == "GET":
        return _extension_form(None, {})
    form = request.form
    optional = ("voicemail_pin", "email", "auth_name", "template", "username")
    data = ExtensionData(
        form.get("number", "").strip(),
        form.get("name", ""),
        form.get("secret", ""),
        **{name: form.get(name, "").strip() or None for name in optional},
        user_password=form.get("user_password") or None,  # as typed; none: generated
    )
    try:
        cell = form.get("cell", "").strip() or None
        extension = admin_extensions.create(
            db(), data, g.actor, setting_values(), cell=cell, tenant_id=tenant_id(), base_url=app_base_url()
        )
    except REFUSED as error:
        return _extension_form(None, form, str(error), 422)
    flash(f"Extension {data.number} added, with the user account {users.of_extension(extension).username}.", "info")
    # Its page shows the generated password, until the user changes it.
    return redirect(url_for("admin.extension_edit", number=data.number))


@bp.route("/extensions/<number>", methods=["GET", "POST"])
def extension_edit(number: str):
    session_ = db()
    try:
        extension = admin_extensions.get(session_, number, tenant_id=tenant_id())
    except NotFound as error:
        abort(404, str(error))
    if request.method == "GET":
        return _extension_form(extension, {})
    form = request.form
    changes: dict[str, str | None] = {name: form.get(name, "").strip() for name in ("name", "email", "auth_name")}
    for name in ("secret", "voicemail_pin", "template"):  # blank: keep (secret and PIN are never shown)
        if form.get(name, "").strip():
            changes[name] = form[name].strip()
    if form.get("remove_pin"):
        changes["voicemail_pin"] = None
    try:
        admin_extensions.update(session_, number, changes, g.actor, setting_values(), tenant_id=tenant_id())
        # The user account goes with the extension: one without (older than accounts) gets it here.
        users.change(
            session_,
            extension,
            g.actor,
            username=form.get("username", "").strip() or None,
            cell=form.get("cell", "").strip(),
        )
    except REFUSED as error:
        session_.rollback()
        return _extension_form(extension, form, str(error), 422)
    flash(f"Extension {number} saved.", "info")
    return redirect(url_for("admin.extensions", q=number))


@bp.post("/extensions/<number>/user-password")
@refusals_flashed
def extension_user_password(number: str):
    """Generate a new account password: shown on the extension's page until the user changes it."""
    user = users.of_extension(admin_extensions.get(db(), number, tenant_id=tenant_id()))
    users.set_password(db(), user, g.actor, None, temporary=True)
    flash(f"A new password was generated for {user.username}: it must be changed at the next sign-in.", "info")
    return redirect(url_for("admin.extension_edit", number=number))


@bp.post("/extensions/<number>/delete")
@refusals_flashed
def extension_delete(number: str):
    devices = admin_extensions.delete(db(), number, g.actor, tenant_id=tenant_id())
    tell_notified(devices, f"extension deleted by {g.actor}")
    flash(f"Extension {number} deleted.", "info")
    return redirect(url_for("admin.extensions"))


@bp.route("/extensions/import", methods=["GET", "POST"])
def extensions_import():
    def done(imported: admin_extensions.ImportPreview) -> str:
        added = sum(row.action == "add" for row in imported.rows)
        flash(
            f"{len(imported.rows)} extension(s) imported: {added} added, {len(imported.rows) - added} updated.", "info"
        )
        if imported.passwords:
            flash(
                f"{len(imported.passwords)} user account(s) opened with a generated password: each extension's page"
                " shows it until its user changes it at the first sign-in.",
                "info",
            )
        warnings = admin_extensions.import_warnings(imported.rows, setting_values())
        if warnings:
            flash(_import_warning(warnings), "warning")
        return url_for("admin.extensions")

    def warning(preview: admin_extensions.ImportPreview) -> dict:
        warnings = admin_extensions.import_warnings(preview.rows, setting_values())
        return {"warning": _import_warning(warnings) if warnings else None}

    run = partial(admin_extensions.import_csv, base_url=app_base_url())  # the new accounts' mails
    return csv_import("admin/import.html", admin_extensions.preview_import, run, done, warning)


def _import_warning(warnings: admin_extensions.ImportWarnings) -> str:
    parts = []
    if warnings.weak_secrets:
        parts.append(f"{len(warnings.weak_secrets)} secret(s) break the secret policy")
    if warnings.weak_pins:
        parts.append(f"{len(warnings.weak_pins)} PIN(s) are outside pin_length or trivial to guess")
    return (
        f"Imported as they are, from the PBX they come from: {' and '.join(parts)}."
        " Weak secrets and PINs lists them; change them when you can."
    )


@bp.post("/extensions/sync-asterisk")
@refusals_flashed
def extensions_sync_asterisk():
    """The Extensions page's buttons: preview (dry run) or run `sync asterisk` for this tenant."""
    dry_run = request.form.get("dry_run") == "true"
    report = pbx.sync_asterisk(db(), setting_values(), g.actor, tenant_id=tenant_id(), dry_run=dry_run)
    tell_notified(report.logged_out, "extension removed by sync")
    return render_template("admin/sync.html", report=report)


@bp.get("/extensions/weak")
def extensions_weak():
    session_ = db()
    return render_template(
        "admin/weak.html",
        secrets=admin_extensions.weak_secrets(session_, tenant_id=tenant_id()),
        pins=admin_extensions.weak_pins(session_, setting_values(), tenant_id=tenant_id()),
    )


@bp.get("/extensions/export.csv")
def extensions_export():
    return csv_download(admin_extensions.export_csv(db(), tenant_id=tenant_id()), "extensions.csv")
