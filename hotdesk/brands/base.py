"""What a brand module declares: how to recognise its phones, its file names, its dialect, its reload."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from importlib import resources
from pathlib import PurePath
from typing import Any, ClassVar, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from hotdesk.brands import budget
from hotdesk.brands.budget import BudgetedSandbox
from hotdesk.mac import normalize_mac
from hotdesk.screens import Configuration, Screen
from hotdesk.settings import SettingSpec

# Files inside the package, read through importlib.resources (PackageLoader), so an installed wheel
# (even a zipped one) has them: templates/xml/<brand>/ the screens, epm_templates/<brand>/ stock templates.
SCREEN_TEMPLATES = "templates/xml"
CONFIG_TEMPLATES = "epm_templates"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> Any:
    """Drop the characters XML 1.0 cannot carry, even escaped (what a phone user typed may hold them)."""
    if isinstance(value, Markup):  # already escaped (a macro's output): keep it marked safe
        return Markup(_NOT_XML.sub("", value))
    return _NOT_XML.sub("", value) if isinstance(value, str) else value


def single_line(value: Any) -> Any:
    """A configuration value that stays on its line or in its element: None -> "", only printable characters."""
    if value is None:
        return ""
    return "".join(ch for ch in value if ch.isprintable()) if isinstance(value, str) else value


_screens = Environment(
    loader=PackageLoader("hotdesk", SCREEN_TEMPLATES),
    autoescape=select_autoescape(default=True),
    finalize=xml_text,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Phones' User-Agents are well under 200 characters; a longer one is not a phone. Refusing it
# before any pattern runs bounds what recognising a request can cost (gunicorn lets 8 KB through).
MAX_USER_AGENT = 512


class Headers(Protocol):
    """What a brand reads of a request's headers: Werkzeug's, or a plain dict."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True)
class Identity:
    """What a request says about the phone that sent it."""

    model: str | None
    firmware: str | None
    mac: str | None


class FileKind(Enum):
    COMMON = "common"  # the same for every phone of the brand: never holds a secret
    DEVICE = "device"  # one phone's own file: guest or user configuration


@dataclass(frozen=True)
class RequestedFile:
    kind: FileKind
    mac: str | None = None
    part: str | None = None  # for brands whose phone fetches several per-device files: which one


def identity_from(patterns: Iterable[re.Pattern[str]], user_agent: str) -> Identity | None:
    """What the first matching pattern reads from a User-Agent: groups model, firmware and, if any, MAC."""
    for pattern in patterns:
        match = pattern.match(user_agent.strip())
        if match:
            model, firmware, *mac = match.groups()
            return Identity(model=model, firmware=firmware, mac=normalize_mac(mac[0]) if mac else None)
    return None


def file_from(filename: str, common: re.Pattern[str], device: re.Pattern[str]) -> RequestedFile | None:
    """COMMON if `common` matches the name; DEVICE if `device` does, its group 1 being the MAC."""
    if common.match(filename):
        return RequestedFile(FileKind.COMMON)
    match = device.match(filename)
    return RequestedFile(FileKind.DEVICE, normalize_mac(match.group(1))) if match else None


@dataclass(frozen=True)
class NotifyBody:
    """What a reload NOTIFY carries for brands whose phones want more than the Event header."""

    content_type: str
    text: str


class Brand:
    key: ClassVar[str]
    label: ClassVar[str]
    screen_content_type: ClassVar[str] = "text/xml; charset=utf-8"
    screen_encoding: ClassVar[str] = "utf-8"  # as screen_content_type and the templates' XML declaration say
    config_content_type: ClassVar[str] = "text/plain; charset=utf-8"
    common_template: ClassVar[str | None] = None  # file under epm_templates/<key>/ for COMMON requests
    settings: ClassVar[tuple[SettingSpec, ...]] = ()
    reloads_by_notify: ClassVar[bool] = True  # the answer to a login cannot reload the phone by itself
    # For brands whose answer does (reloads_by_notify = False): the `reload` screen lists the URLs
    # of the device's new configuration, this many settings a page (see configuration_pages).
    configuration_page_size: ClassVar[int] = 30
    config_autoescape: ClassVar[bool] = False  # True for XML configuration formats
    # True when the brand's templates write `provisioning` (the device's own HTTP credentials)
    # into its config, so the phone uses them from then on; see hotdesk.web.provision.
    issues_device_credentials: ClassVar[bool] = False
    # The nginx fast path (hotdesk.published): a device file rendered for the device's own
    # credentials gets `fast_path`, the URL of its pre-rendered files, when publishing is on. A
    # brand takes part by writing it as the phone's provisioning server URL in its default
    # template (Yealink: static.auto_provision.server.url); the phone must then fetch every file
    # relative to it. Nothing else is needed here.
    # False for phones without an XML browser (JavaScript-app phones): no keys in their configs,
    # logins come from the CLI/console, and an app screen reaching one is answered as plain text.
    has_login_app: ClassVar[bool] = True

    def identify(self, user_agent: str, headers: Headers) -> Identity | None:
        """The brand's identity a request declares (`parse_identity`), or None; capped here, whoever
        calls it (recognise, the phone app)."""
        return None if len(user_agent) > MAX_USER_AGENT else self.parse_identity(user_agent, headers)

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        raise NotImplementedError

    def requested_file(self, filename: str) -> RequestedFile | None:
        raise NotImplementedError

    def notify_event(self, settings: Mapping[str, str]) -> str:
        return "check-sync"

    def notify_body(self) -> NotifyBody | None:
        """The body of the reload NOTIFY; most phones want none."""
        return None

    def config_value(self, value: Any) -> Any:
        """Applied to every {{ value }} in this brand's provisioning templates."""
        if value is None:
            return ""
        return xml_text(value) if self.config_autoescape else value

    def configuration_items(self, device_file: bytes) -> list[tuple[str, str]]:
        """The settings a rendered device file holds, in order (brands that reload by the answer)."""
        raise NotImplementedError

    def configuration_pages(self, device_file: bytes) -> list[list[tuple[str, str]]]:
        items, size = self.configuration_items(device_file), self.configuration_page_size
        return [items[start : start + size] for start in range(0, len(items), size)]

    # Rendering: shared by every brand, driven by the declarations above.

    def render_screen(self, screen: Screen, **context: Any) -> bytes:
        if not self.has_login_app:
            title = "" if isinstance(screen, Configuration) else screen.title
            return f"{title}: {getattr(screen, 'text', '')}\n".encode()
        template = _screens.get_template(f"{self.key}/{screen.template}.xml")
        # Characters the encoding lacks become character references, which every XML parser reads.
        return template.render(screen=screen, **context).encode(self.screen_encoding, "xmlcharrefreplace")

    def render_config(self, body: str, context: Mapping[str, Any]) -> bytes:
        return budget.render(self._compile(body), context).encode("utf-8")

    def renders_template(self, part: str | None) -> bool:
        """Is this part of a device's files rendered from its template (where the admin's edits,
        and the credentials block, are)? False for a part the brand writes itself."""
        return True

    def render_common(self, context: Mapping[str, Any]) -> bytes:
        assert self.common_template is not None
        template = self._environment.get_template(f"{self.key}/{self.common_template}")
        return budget.render(template, context).encode("utf-8")

    def check_template(self, body: str) -> None:
        """Raise jinja2.TemplateSyntaxError for a template that cannot compile."""
        self._compile(body)

    def stock_templates(self) -> dict[str, str]:
        """Templates shipped in epm_templates/<key>/, by name: seeded into the database by init-db."""
        folder = resources.files("hotdesk") / CONFIG_TEMPLATES / self.key
        return {
            PurePath(file.name).stem: file.read_text(encoding="utf-8")
            for file in sorted(folder.iterdir(), key=lambda file: file.name)
            if file.is_file() and file.name != self.common_template
        }

    @property
    def _environment(self) -> BudgetedSandbox:
        # Sandboxed: admins edit templates, and a template must not reach into the server, nor
        # work forever (hotdesk.brands.budget).
        env = self.__dict__.get("_env")
        if env is None:
            env = BudgetedSandbox(
                loader=PackageLoader("hotdesk", CONFIG_TEMPLATES),
                autoescape=self.config_autoescape,
                finalize=self.config_value,
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
            )
            self.__dict__["_env"] = env
        return env

    def _compile(self, body: str):
        return _compiled(self, body)


@lru_cache(maxsize=512)
def _compiled(brand: Brand, body: str):
    return brand._environment.from_string(body)
