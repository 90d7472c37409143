"""Runtime settings as admins see them: secret values are never listed, and a change is recorded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hotdesk.admin import NotFound, record_change
from hotdesk.setting_store import Settings


@dataclass(frozen=True)
class SettingView:
    name: str
    value: str | None  # None for a secret: ask for it by name
    help: str
    secret: bool


def listing(session: Session, registry: Settings) -> list[SettingView]:
    values = registry.all(session)
    return [
        SettingView(name, None if spec.secret else values[name], spec.help, spec.secret)
        for name, spec in sorted(registry.specs.items())
    ]


def get(session: Session, registry: Settings, name: str) -> SettingView:
    """One setting with its value, a secret's too: the face decides who may read that."""
    if name not in registry.specs:
        raise NotFound(f"no setting {name!r}")
    spec = registry.spec(name)
    return SettingView(name, registry.get(session, name), spec.help, spec.secret)


def change(session: Session, registry: Settings, name: str, value: str, actor: str) -> str:
    """Check and store one setting; the history names it (and its value, unless it is a secret)."""
    old = registry.get(session, name)
    stored = registry.set(session, name, value)
    if stored != old:
        shown = "(secret)" if registry.spec(name).secret else repr(stored)
        record_change(session, actor, f"setting {name} = {shown}")
    session.flush()
    return stored
