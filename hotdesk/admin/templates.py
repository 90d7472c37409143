"""Provisioning templates as admins edit them: nothing is saved that would not render.

Before a template is saved it is rendered, through its brand, for a sample guest phone (with and
without the emergency guest line) and a sample logged-in phone; an error names the line. For
brands whose configuration is XML the result must also parse.
"""

from __future__ import annotations

import re
from collections import namedtuple

import jinja2
from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotdesk import templates
from hotdesk.admin import Conflict, NotFound, record_change
from hotdesk.brands import BRANDS, Brand
from hotdesk.credentials import DeviceCredentials
from hotdesk.hotdesking import Line
from hotdesk.models import Template
from hotdesk.templates import TemplateError

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_BODY = 512 * 1024

SampleKey = namedtuple("SampleKey", "label url")  # what the provisioning context's keys look like
_SERVER = "http://hotdesk.example.com:8080"
_MAC = "001565000001"
_USER = Line("1001", "1001", "1001", "sample-Secret-1", "Sample User", "pbx.example.com", 5060, "external")
_GUEST_LINE = Line("911", "911", "911", "guest-Secret-1", "Emergency calls only", "10.0.0.1", 5060, "guest")


def brand_of(key: str) -> Brand:
    try:
        return BRANDS[key]
    except KeyError:
        raise NotFound(f"no brand {key!r} (brands: {', '.join(sorted(BRANDS))})") from None


def listing(session: Session, brand: str | None = None, tenant_id: int | None = None) -> list[Template]:
    """The templates the tenant may use: its own and the system's (tenant_id None: the system's)."""
    query = select(Template).where(_visible_to(tenant_id)).order_by(Template.brand, Template.name, Template.tenant_id)
    if brand:
        query = query.where(Template.brand == brand)
    return list(session.scalars(query))


def find(session: Session, brand: str, name: str, tenant_id: int | None = None) -> Template | None:
    """The template brand/name the tenant would use: its own, else the system's."""
    found = session.scalars(
        select(Template).where(_visible_to(tenant_id), Template.brand == brand, Template.name == name)
    )
    return min(found, key=lambda t: t.tenant_id is None, default=None)


def get(session: Session, brand: str, name: str, tenant_id: int | None = None) -> Template:
    template = find(session, brand, name, tenant_id)
    if template is None:
        raise NotFound(f"no template {brand}/{name}")
    return template


def defaults(session: Session, tenant_id: int | None = None) -> dict[str, Template]:
    """Brand -> the default template the tenant's phones get: its own default, else the system's."""
    chosen: dict[str, Template] = {}
    for template in session.scalars(select(Template).where(_visible_to(tenant_id), Template.is_default)):
        if template.brand not in chosen or template.tenant_id is not None:
            chosen[template.brand] = template
    return chosen


def _visible_to(tenant_id: int | None):
    system = templates.owned_by(None)
    return system if tenant_id is None else or_(system, templates.owned_by(tenant_id))


def _own(session: Session, brand: str, name: str, tenant_id: int | None) -> Template:
    """The owner's own template brand/name: a tenant sees the system's but changes only its own."""
    template = get(session, brand, name, tenant_id)
    if template.tenant_id != tenant_id:
        raise Conflict(
            f"template {brand}/{name} is the system's: a tenant changes only its own"
            " (import one of that name for the tenant instead)"
        )
    return template


def sample_contexts(brand: Brand, name: str) -> dict[str, dict]:
    """The contexts hotdesk.web.provision renders a device file with, filled with sample values."""
    base = {
        "server": _SERVER,
        "brand": brand.key,
        "part": None,
        "provisioning": None,
        "guest_line": None,
        "fast_path": None,
        "device": {"mac": _MAC, "mac_upper": _MAC.upper(), "model": "sample", "firmware": "1.0"},
        "template": name,
    }
    guest_keys = [
        SampleKey("External", f"{_SERVER}/phone/t/login/external"),
        SampleKey("Internal", f"{_SERVER}/phone/t/login/internal"),
    ]
    return {
        "guest phone": base | {"line": None, "keys": guest_keys},
        "guest phone with the emergency line and its own credentials": base
        | {
            "line": None,
            "keys": guest_keys,
            "guest_line": _GUEST_LINE,
            "provisioning": DeviceCredentials("hdsample", "sample-Password-1"),
        },
        "logged-in phone": base
        | {
            "line": _USER,
            "keys": [SampleKey("Logout", f"{_SERVER}/phone/t/menu")],
            "fast_path": f"{_SERVER}/fast/{_MAC}/{'0' * 32}/",
        },
    }


def check(brand: Brand, name: str, body: str) -> None:
    """TemplateError naming the line, if the body does not compile or does not render."""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY:
        raise TemplateError(f"template: larger than {MAX_BODY // 1024} KiB")
    if "\x00" in body or any("\ud800" <= ch <= "\udfff" for ch in body):
        raise TemplateError("template: holds a NUL or an unpaired surrogate: not text")
    try:
        brand.check_template(body)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"template line {error.lineno}: {error.message}") from None
    for case, context in sample_contexts(brand, name).items():
        try:
            rendered = brand.render_config(body, context)
        except jinja2.TemplateError as error:
            raise TemplateError(f"template{_line_of(error)}: {error} (rendering for a {case})") from None
        except Exception as error:  # a sandboxed template can still divide by zero, compare None, ...
            raise TemplateError(
                f"template{_line_of(error)}: {type(error).__name__}: {error} (rendering for a {case})"
            ) from None
        if "xml" in brand.config_content_type:
            try:
                etree.fromstring(rendered, etree.XMLParser(resolve_entities=False, no_network=True))
            except etree.XMLSyntaxError as error:
                raise TemplateError(f"template: renders malformed XML for a {case}: {error}") from None


def _line_of(error: BaseException) -> str:
    # Jinja rewrites tracebacks so the template's own frames carry its line numbers.
    tb, line = error.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" line {line}" if line else ""


def save(
    session: Session,
    brand_key: str,
    name: str,
    body: str,
    actor: str,
    *,
    create_only: bool = False,
    tenant_id: int | None = None,
) -> Template:
    """Create or replace the owner's (the system's, or the tenant's) brand/name after checking it
    renders. A tenant's template may have the name of a system one: the tenant's phones get its own."""
    brand = brand_of(brand_key)
    if not _NAME.fullmatch(name):
        raise TemplateError(f"name: {name!r} is not a template name (letters, digits, . _ -; at most 64)")
    body = body.replace("\r\n", "\n")
    check(brand, name, body)
    template = session.scalar(
        select(Template).where(templates.owned_by(tenant_id), Template.brand == brand.key, Template.name == name)
    )
    if template is not None and create_only:
        raise Conflict(f"template {brand.key}/{name} already exists")
    if template is None:
        template = Template(tenant_id=tenant_id, brand=brand.key, name=name, body=body, is_default=False)
        session.add(template)
        detail = "added"
    else:
        template.body = body
        detail = "changed"
    _record(session, actor, f"template {brand.key}/{name} {detail}", brand.key, name, tenant_id)
    session.flush()
    return template


def set_default(session: Session, brand: str, name: str, actor: str, tenant_id: int | None = None) -> Template:
    """Make brand/name the owner's default for the brand. A tenant's default is one of its own
    templates; naming the system's default takes the tenant back to it."""
    template = get(session, brand, name, tenant_id)
    if tenant_id is not None and template.tenant_id is None:
        if not template.is_default:
            _own(session, brand, name, tenant_id)  # refused: the system's, and not its default
        templates.clear_default(session, brand, tenant_id)
        _record(session, actor, f"template {brand}/{name} (the system's) made the default", brand, name, tenant_id)
        return template
    _record(session, actor, f"template {brand}/{name} made the default", brand, name, tenant_id)
    return templates.set_default(session, brand, name, tenant_id)


def delete(session: Session, brand: str, name: str, actor: str, tenant_id: int | None = None) -> None:
    """Delete the owner's template; pins to it go with it. The system's default cannot go; a
    tenant's default can (the tenant's phones fall back to the system's)."""
    template = _own(session, brand, name, tenant_id)
    if template.is_default and tenant_id is None:
        raise Conflict(f"template {brand}/{name} is the default {brand} template: make another the default first")
    session.delete(template)
    _record(session, actor, f"template {brand}/{name} deleted", brand, name, tenant_id)
    session.flush()


def _record(session: Session, actor: str, detail: str, brand: str, name: str, tenant_id: int | None) -> None:
    record_change(session, actor, detail, brand=brand, template=name, tenant_id=tenant_id)
