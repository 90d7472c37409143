"""QR codes of sign-in links (segno): SVG for pages and files, PNG for mails and files."""

from __future__ import annotations

import io

import segno


def _code(url: str) -> segno.QRCode:
    return segno.make(url, error="m")  # medium error correction: a photo of a screen still reads


def svg_element(url: str) -> str:
    """An <svg> element to put in a page as it is."""
    return _code(url).svg_inline(scale=4, border=2, title="QR code")


def svg(url: str) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="svg", scale=8, border=4)
    return out.getvalue()


def png(url: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
