"""schemathesis against the served OpenAPI document: no 5xx, and every answer as the document says.

Requests go through the WSGI app with a real token. Cases are generated from the document, valid
ones and deliberately invalid ones; invalid input must get a 4xx, and every answer (status, content
type, headers, body) must be one the document describes. (schemathesis' pytest plugin does not run
on pytest 9, so each operation's strategy is driven by hypothesis here.)
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hotdesk import people
from hotdesk.admin import accounts
from hotdesk.models import Extension
from hotdesk.web import openapi

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
OPERATIONS = [
    (method, path) for path, item in openapi.document()["paths"].items() for method in item if method != "parameters"
]


@pytest.fixture
def token(session):
    alice = Extension(number="1001", name="Alice", secret="alice-SIP-secret-9f3", voicemail_pin="4321")
    session.add(alice)
    people.create(session, alice, "alice")  # its user account: /extensions/1001/user-password answers
    session.commit()
    made = accounts.create_token(session, "schemathesis", "test", scopes=accounts.SCOPES).secret
    session.commit()  # the caller commits: admin functions only flush
    return made


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS])
def test_api_matches_its_openapi_document(app, token, method, path, mode):
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method.upper()]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        # schemathesis sends nothing for a query parameter whose value is an empty list, yet counts
        # it as an unknown parameter the server should have refused: such a case tests nothing.
        assume(not any(value == [] for value in (case.query or {}).values()))
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        if path != "/extensions/export":  # the export is a backup the import reads back: it must carry them
            assert b"alice-SIP-secret-9f3" not in response.content

    check()
