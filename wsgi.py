"""WSGI entry point: `gunicorn wsgi:app`."""

from hotdesk.app import create_app

app = create_app()
