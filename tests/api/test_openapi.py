"""Schemathesis against /openapi.json of `captionbot api` with the session's worker: generated requests to every
operation, with a valid key; none may answer 5xx, and every answer must match the document (status, media
type, headers, body schema)."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_every_operation_answers_as_its_document_says(api, api_key):
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/captions",
        "GET /v1/models",
        "GET /healthz",
        "GET /v1/samples",
        "GET /v1/samples/{name}",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS, timeout=90)

        answers_as_documented()
