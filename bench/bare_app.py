"""The stack's ceiling: Flask under the same gunicorn settings, answering every provisioning
path with the same constant bytes (BENCH_BODY_FILE) and the headers hotdesk sends."""

import os
from pathlib import Path

from flask import Flask, Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
app = Flask(__name__)


@app.get("/provision/<path:filename>")
def provisioning_file(filename: str) -> Response:
    response = Response(BODY, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response
