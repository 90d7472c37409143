"""Mail: a queue in the database, and the senders that empty it (issue 13, interfaces.md section 6).

- `options`: the SMTP settings, per tenant (smtp_host, smtp_port, smtp_security, ...).
- `queue`: what is to be sent, to whom, and how it went: queued by the admin functions in the
  transaction that creates the account, claimed by one sender, retried with backoff, given up.
- `smtp`: one message through the tenant's SMTP server (the standard library's smtplib).
- `account`: the account mail (the person's account information, the QR code of a sign-in link and
  a link to choose the account password).
- `password`: the "Forgot your password?" mail (a link to choose the account password).
- `sender`: sends what is due, from a thread of each web process and of `hotdesk scheduler`, or
  once (`hotdesk mail send-queued`).

A queued row says what a mail is about, never what it says: a message, and any secret in it (the
account mail's single-use links; an access code later), is made when it is sent, by the composer of
its kind (`sender.COMPOSERS`).
"""

from hotdesk.mail import account, options, password, queue, sender, smtp

__all__ = ["account", "options", "password", "queue", "sender", "smtp"]
