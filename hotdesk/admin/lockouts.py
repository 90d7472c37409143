"""Failed-login lockouts as admins see and lift them: the console, the API and the CLI call these."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotdesk import lockout, self_service
from hotdesk.admin import AdminError, NotFound
from hotdesk.admin.phones import device
from hotdesk.models import DEFAULT_TENANT_ID, Extension
from hotdesk.setting_store import Settings


def listing(session: Session, registry: Settings, *, tenant_id: int = DEFAULT_TENANT_ID) -> list[lockout.Lockout]:
    """Every lock in force now in the tenant, the longest first (hotdesk.lockout counts them): phone
    logins', and people's portal sign-ins (hotdesk.self_service)."""
    values = registry.values(session, tenant_id)
    locks = lockout.current(session, values, tenant_id=tenant_id) + self_service.sign_in_locks(
        session, values, tenant_id=tenant_id
    )
    return sorted(locks, key=lambda lock: (lock.until, lock.key), reverse=True)


def unlock(
    session: Session,
    actor: str,
    *,
    extension: str | None = None,
    mac: str | None = None,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> str:
    """Lift the lockout of one of the tenant's extensions (on every phone) or phones, now; an `unlock`
    event with the admin's name records it. What was unlocked, in words."""
    if extension is not None and mac is None:
        number = extension.strip()
        exists = select(Extension.id).where(Extension.tenant_id == tenant_id, Extension.number == number)
        if session.scalar(exists) is None:
            raise NotFound(f"no extension {number}")
        lockout.unlock(session, number=number, actor=actor, tenant_id=tenant_id)
        what = f"extension {number}"
    elif mac is not None and extension is None:
        phone = device(session, mac, tenant_id)
        lockout.unlock(session, mac=phone.mac, actor=actor, tenant_id=tenant_id)
        what = f"phone {phone.mac}"
    else:
        raise AdminError("name an extension or a phone to unlock")
    session.flush()
    return what
