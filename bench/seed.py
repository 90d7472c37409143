"""A fresh benchmark database: `hotdesk init-db`, then a directory of any size in bulk.

Every seeded extension is logged in on its own seeded phone (so a fetch renders a user's file,
the heaviest per-MAC path) and has the login in its history; `guests` more phones and as many
free extensions wait for the login storm. Each phone already holds its own provisioning
credentials, as it would after its first fetch.

With `tenants`, the extensions and phones are spread over that many tenants (besides the default
one), each with its own provisioning credentials, SIP domain and a few settings of its own, as
`hotdesk tenants add` and an operator's `settings set --tenant` would leave them.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, text, update
from sqlalchemy.engine import make_url

from hotdesk import settings_registry
from hotdesk.db import make_engine, make_session_factory
from hotdesk.models import DEFAULT_TENANT_ID, Device, Event, Extension, Mapping, Tenant, TenantSetting, utcnow

MODEL, FIRMWARE = "T46S", "66.86.0.15"
COMMON_FILE = "y000000000066.cfg"  # what firmware 66.x fetches
PROVISIONING = ("bench", "bench-provisioning-secret")
CHUNK = 10_000


@dataclass(frozen=True)
class Phone:
    mac: str
    username: str
    password: str

    @property
    def user_agent(self) -> str:
        return f"Yealink SIP-{MODEL} {FIRMWARE} " + ":".join(self.mac[i : i + 2] for i in range(0, 12, 2))

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass(frozen=True)
class Population:
    url: str
    users: list[Phone]  # logged in
    guests: list[Phone]  # logged out, for the login storm
    free_extensions: list[tuple[str, str]]  # (number, voicemail PIN), one per guest


def fresh_database(url: str) -> None:
    """An empty database at `url`, then `hotdesk init-db` on it, as an admin would."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            path = f"{parsed.database}{suffix}"
            if os.path.exists(path):
                os.remove(path)
    else:
        # The schema the URL's search_path names (bench/__main__.py gives each size its own).
        options = parsed.query.get("options", "")
        schema = options.partition("search_path=")[2] or "public"
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
        engine.dispose()
    hotdesk = Path(sys.executable).with_name("hotdesk")  # the venv's command
    subprocess.run(
        [hotdesk, "init-db"], env={**os.environ, "HOTDESK_DATABASE_URL": url}, check=True, stdout=subprocess.DEVNULL
    )


def seed(url: str, size: int, guests: int, sip_port: int, tenants: int = 0) -> Population:
    fresh_database(url)
    engine = make_engine(url)
    now = utcnow()
    # Phone i (and its extension) belongs to tenant 2 + i % tenants; without tenants, to the default one.
    tenant_of = [DEFAULT_TENANT_ID + 1 + i % tenants if tenants else DEFAULT_TENANT_ID for i in range(size + guests)]
    users = [_phone(i) for i in range(size)]
    guest_phones = [_phone(size + i) for i in range(guests)]
    pins = [f"{secrets.randbelow(10**6):06d}" for _ in range(size + guests)]
    number = [f"{100000 + i}" for i in range(size + guests)]

    extensions = [
        {
            "id": i + 1,
            "tenant_id": tenant_of[i],
            "number": number[i],
            "name": f"Bench User {i}",
            "secret": secrets.token_urlsafe(12),
            "voicemail_pin": pins[i],
            "created_at": now,
            "updated_at": now,
        }
        for i in range(size + guests)
    ]
    devices = [
        {
            "id": i + 1,
            "tenant_id": tenant_of[i],
            "mac": p.mac,
            "brand": "yealink",
            "model": MODEL,
            "firmware": FIRMWARE,
            "last_ip": "127.0.0.1",
            "last_seen": now,
            "provisioning_username": p.username,
            "provisioning_password": p.password,
            "credentials_issued_at": now,
            "created_at": now,
            "admitted_at": now,  # as an admin would have (device_admission = approve, the default)
        }
        for i, p in enumerate(users + guest_phones)
    ]
    mappings = [
        {"id": i + 1, "device_id": i + 1, "extension_id": i + 1, "address": "external", "since": now}
        for i in range(size)
    ]
    logins = [
        {
            "at": now - timedelta(hours=1),
            "kind": "login",
            "extension": number[i],
            "mac": users[i].mac,
            "brand": "yealink",
            "model": MODEL,
            "template": "default",
            "address": "external",
            "ip": "127.0.0.1",
            "tenant_id": tenant_of[i],
        }
        for i in range(size)
    ]
    tenant_rows, tenant_settings = tenant_population(tenants, now)
    with engine.begin() as connection:
        for table, rows in (
            (Tenant, tenant_rows),
            (TenantSetting, tenant_settings),
            (Extension, extensions),
            (Device, devices),
            (Mapping, mappings),
            (Event, logins),
        ):
            for start in range(0, len(rows), CHUNK):
                connection.execute(insert(table), rows[start : start + CHUNK])
        if engine.dialect.name == "postgresql":  # the ids were given: move the sequences past them
            for table in (Tenant, Extension, Device, Mapping):
                name = table.__tablename__
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
                )

    registry = settings_registry()
    with make_session_factory(engine)() as session:
        for name, value in {
            "provisioning_username": PROVISIONING[0],
            "provisioning_password": PROVISIONING[1],
            "external_address": "pbx.example.com:5060",
            "internal_address": "10.0.0.5",
            "phone_sip_port": str(sip_port),
            # The limiter runs on every request, with a ceiling no benchmark phone reaches.
            "device_requests_per_minute": "100000",
        }.items():
            registry.set(session, name, value)
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return Population(url, users, guest_phones, list(zip(number[size:], pins[size:], strict=True)))


def tenant_population(tenants: int, now) -> tuple[list[dict], list[dict]]:
    """Tenants 2 … tenants + 1 and their own settings: provisioning credentials, addresses, and a
    policy or two on some, so that each tenant's typed settings differ from the installation's."""
    rows, settings = [], []
    for index in range(tenants):
        tenant_id = DEFAULT_TENANT_ID + 1 + index
        name = f"tenant{index:04d}"
        rows.append({"id": tenant_id, "name": name, "sip_domain": f"{name}.example.com", "created_at": now})
        own = {
            "provisioning_username": f"hotdesk-{name}",
            "provisioning_password": secrets.token_urlsafe(18),
            "external_address": f"pbx.{name}.example.com:5060",
            "internal_address": f"10.{index // 250}.{index % 250}.5",
        }
        if index % 3 == 0:
            own["multiple_login"] = "allow"
        if index % 5 == 0:
            own["lockout_attempts"] = "3"
        settings += [{"tenant_id": tenant_id, "name": key, "value": value} for key, value in own.items()]
    return rows, settings


def power_cut(url: str) -> None:
    """Every phone last seen an hour ago, as after a power cut: each records itself on its first fetch."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(update(Device).values(last_seen=utcnow() - timedelta(hours=1)))
    engine.dispose()


def request_list(path, phones: list[Phone], files, folder=lambda phone: "/provision/") -> None:
    """Requests for wrk (bench/requests.lua): `path<TAB>authorization<TAB>user-agent` per line."""
    with open(path, "w") as out:
        for phone in phones:
            out.writelines(
                f"{folder(phone)}{name}\t{phone.authorization}\t{phone.user_agent}\n" for name in files(phone)
            )


def _phone(index: int) -> Phone:
    return Phone(mac=f"001565{index:06x}", username=f"hd{index:012x}", password=secrets.token_urlsafe(12))
