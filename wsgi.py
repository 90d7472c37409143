"""WSGI entry point: `gunicorn wsgi:app`."""

from hotdesk import create_app

app = create_app()
