"""Per-device provisioning credentials: issued once, then the only key to that device's secrets.

A phone first fetches its file with the global provisioning credentials; that file hands it a
user name and password of its own. From then on the global credentials get that device's guest
file only, so knowing them (they are in every phone) no longer opens anyone's SIP secret.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from hotdesk.models import Device, utcnow


@dataclass(frozen=True)
class DeviceCredentials:
    username: str
    password: str


def lookup(session: Session, username: str) -> tuple[str, str] | None:
    """(MAC, password) of the device whose own user name this is, or None for no such device."""
    row = session.execute(
        select(Device.mac, Device.provisioning_password).where(Device.provisioning_username == username)
    ).first()
    return (row.mac, row.provisioning_password) if row else None


_ISSUED_USERNAME = re.compile(r"^hd[0-9a-f]{12}$")


def looks_issued(username: str) -> bool:
    """Is this the form of a user name `issue` hands out? No tenant's shared user name may be."""
    return _ISSUED_USERNAME.match(username) is not None


def issue(session: Session, device: Device) -> DeviceCredentials | None:
    """New credentials for a device that has none; None if it already has some (or just got them).

    One conditional UPDATE decides between racing requests (the loser's waits for the winner's
    row lock, then matches nothing); the caller commits before it hands the credentials out."""
    issued = DeviceCredentials(f"hd{secrets.token_hex(6)}", secrets.token_urlsafe(15))
    # An UPDATE's result is a CursorResult (rowcount); Session.execute is typed as returning any Result.
    changed = cast(
        "CursorResult[Any]",
        session.execute(
            update(Device)
            .where(Device.id == device.id, Device.provisioning_username.is_(None))
            .values(
                provisioning_username=issued.username,
                provisioning_password=issued.password,
                credentials_issued_at=utcnow(),
            )
        ),
    )
    session.refresh(device)
    return issued if changed.rowcount == 1 else None


def withdraw(session: Session, device: Device) -> None:
    """Forget the device's credentials: its next fetch with the global ones gets new credentials."""
    device.provisioning_username = device.provisioning_password = device.credentials_issued_at = None
    session.flush()
