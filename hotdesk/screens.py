"""What the phone app wants to show, independent of any brand's XML dialect.

The web layer builds these; each brand renders them with its templates under templates/xml/<brand>/.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MenuItem:
    label: str
    url: str


@dataclass(frozen=True)
class Menu:
    title: str
    items: tuple[MenuItem, ...]
    template = "menu"


@dataclass(frozen=True)
class Field:
    name: str  # the query parameter the phone submits
    prompt: str
    numeric: bool = False
    secret: bool = False  # masked on screen
    default: str = ""


@dataclass(frozen=True)
class Form:
    title: str
    url: str  # submitted with GET, each field appended as a query parameter
    fields: tuple[Field, ...]
    template = "input"


@dataclass(frozen=True)
class CodeForm:
    """A code the person was sent elsewhere (the e-mailed access code after the PIN), typed as the
    PIN is: a brand renders it as its input screen, plus a "Resend" key where its dialect has one
    for a URL (elsewhere the person starts the login again)."""

    title: str
    url: str  # submitted with GET, the field appended as a query parameter
    field: Field
    resend_url: str | None = None
    template = "code"

    @property
    def fields(self) -> tuple[Field, ...]:
        return (self.field,)


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    error: bool = False
    back_url: str | None = None  # where "Back"/"Retry" leads; None: just an Exit key
    template = "text"


@dataclass(frozen=True)
class Reload:
    """The device's configuration changed: tell the user, and make the phone fetch it."""

    title: str
    text: str
    # Brands whose answer reloads the phone (Brand.reloads_by_notify = False):
    pages: tuple[str, ...] = ()  # URLs of the new configuration, page by page, in order
    done_url: str | None = None  # the screen that says the phone has its new configuration
    template = "reload"


@dataclass(frozen=True)
class Configuration:
    """Settings the phone applies at once, without restarting: one page of its device file."""

    items: tuple[tuple[str, str], ...]
    template = "configuration"


Screen = Menu | Form | CodeForm | Message | Reload | Configuration
