"""The registry of known settings (core ones plus those brands declare) and their values in the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotdesk.models import Setting
from hotdesk.settings import SettingError, SettingSpec


class Settings:
    """The registry of known settings (core ones plus those brands declare) over a DB session."""

    def __init__(self, specs: tuple[SettingSpec, ...] | list[SettingSpec]):
        self.specs = {spec.name: spec for spec in specs}

    def spec(self, name: str) -> SettingSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise SettingError(f"unknown setting {name!r} (known: {', '.join(sorted(self.specs))})") from None

    def get(self, session: Session, name: str) -> str:
        spec = self.spec(name)
        value = session.get(Setting, name)
        return value.value if value is not None else spec.default()

    def all(self, session: Session) -> dict[str, str]:
        stored = dict(session.execute(select(Setting.name, Setting.value)).all())
        # Defaults only for what is not stored: some generate random passwords, costly per request.
        return {name: stored[name] if name in stored else spec.default() for name, spec in self.specs.items()}

    def set(self, session: Session, name: str, value: str) -> str:
        value = self.spec(name).check(value)
        session.merge(Setting(name=name, value=value))
        return value

    def seed(self, session: Session) -> None:
        """Store a value for every setting that has none, so generated passwords stay fixed."""
        stored = set(session.scalars(select(Setting.name)))
        for name, spec in self.specs.items():
            if name not in stored:
                session.add(Setting(name=name, value=spec.default()))
