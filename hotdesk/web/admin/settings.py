"""Settings: the installation's and a tenant's."""

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

from hotdesk.admin import AdminError, NotFound
from hotdesk.admin import settings as admin_settings
from hotdesk.models import DEFAULT_TENANT_ID
from hotdesk.settings import SettingError
from hotdesk.softphone.apps import account_change_note
from hotdesk.web import db, hotdesk, tenant_id
from hotdesk.web.admin.base import (
    bp,
    is_manager,
    refusals_flashed,
)


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    registry = hotdesk().settings
    session_ = db()
    views = admin_settings.listing(session_, registry, tenant_id())
    if request.method == "GET":
        return _settings_page(views)
    current = registry.all(session_, tenant_id())
    wanted = {
        view.name: request.form[view.name]
        for view in views
        if view.name in request.form
        and not (view.secret and request.form[view.name] == "")
        and request.form[view.name] != current[view.name]
    }
    errors = {}
    for name, value in wanted.items():  # check all first: a form with one bad value changes nothing
        try:
            if is_manager():
                admin_settings.check_manager_may_change(name, tenant_id())
            registry.spec(name).check(value)
        except (SettingError, AdminError) as error:
            errors[name] = str(error)
    if errors:
        return _settings_page(views, values=request.form, errors=errors), 422
    for name, value in wanted.items():
        admin_settings.change(session_, registry, name, value, g.actor, tenant_id=tenant_id(), manager=is_manager())
    flash(f"{len(wanted)} setting(s) changed." if wanted else "Nothing changed.", "info")
    _tell_about_apps(set(wanted))
    return redirect(url_for("admin.settings"))


def _tell_about_apps(changed: set[str]) -> None:
    note = account_change_note(changed)
    if note is not None:
        flash(note, "info")


@bp.post("/settings/<name>/unset")
@refusals_flashed
def setting_unset(name: str):
    """The tenant takes the installation's value of `name` again."""
    admin_settings.unset(db(), hotdesk().settings, name, g.actor, tenant_id=tenant_id(), manager=is_manager())
    flash(f"{name}: the installation's value again.", "info")
    _tell_about_apps({name})
    return redirect(url_for("admin.settings"))


def _own_settings() -> set[str]:
    """The settings the tenant has values of its own for (the default tenant's are the installation's)."""
    if tenant_id() == DEFAULT_TENANT_ID:
        return set()
    return set(hotdesk().settings.overrides(db(), tenant_id()))


def _locked_settings(views) -> set[str]:
    """The settings this admin sees but may not change here (all of them for the default tenant's manager)."""
    if not is_manager():
        return set()
    if tenant_id() == DEFAULT_TENANT_ID:
        return {view.name for view in views}
    return set(admin_settings.SYSTEM_ONLY)


@bp.post("/settings/<name>/show")
def setting_show(name: str):
    """A secret setting's value (as `hotdesk settings get`), in this answer only: it is in no page a
    GET returns, so no cache, history or shoulder sees it unasked. A manager reads only their
    tenant's own (admin_settings.get)."""
    registry, session_ = hotdesk().settings, db()
    try:
        shown = admin_settings.get(session_, registry, name, tenant_id(), manager=is_manager())
    except NotFound as error:
        abort(404, str(error))
    except AdminError as error:
        abort(403, str(error))
    return _settings_page(admin_settings.listing(session_, registry, tenant_id()), shown={name: shown.value})


def _settings_page(views, *, values=None, errors=None, shown=None) -> str:
    return render_template(
        "admin/settings.html",
        views=views,
        values=values or {},
        errors=errors or {},
        shown=shown or {},
        locked=_locked_settings(views),
        own=(own := _own_settings()),
        # A manager reads a secret only if it is the tenant's own (admin_settings.get).
        unreadable={view.name for view in views if view.secret and view.name not in own} if is_manager() else set(),
    )
