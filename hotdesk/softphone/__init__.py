"""Softphone apps: what a person's app is given and how it proves it may have it (issue 13).

- `options`: the settings of the account an app receives (transport, ports, address, outbound proxy, realm).
- `account`: the account itself, built from the extension, the user's choices and the tenant's settings.
- `links`: single-use, expiring sign-in links (what a QR code or a mail holds), and the apps they
  signed in, each with its own revocable configuration URL.

No Flask, no XML: the web layer answers Linphone's XML, a browser's page or JSON from an `Account`.
"""

from hotdesk.softphone import account, links, options, qr

__all__ = ["account", "links", "options", "qr"]
