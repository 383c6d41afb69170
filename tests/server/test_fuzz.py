"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid; every response must be a non-5xx
whose status, content type and body the document declares. The app runs in process on a
memory store, with an admin key, so nothing outside the test is touched.
"""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from dialoghub.server import Settings, create_app
from dialoghub.server.auth import create_key
from dialoghub.server.keystore import MemoryKeyStore
from tests.server.conftest import WEATHER

_keystore = MemoryKeyStore()
_KEY, _ = asyncio.run(create_key(_keystore, "fuzz", scopes=("admin",)))
_app = create_app(
    # rate_limit and auth_failures off: the fuzzer sends bad credentials on purpose, hundreds
    # of times from one address (the limits have their own tests in test_connections.py).
    Settings(store="memory://", models=(WEATHER,), rate_limit=0, auth_failures=0,
             token_keys=("k1:0123456789abcdef0123456789abcdef",)),
    keystore=_keystore,
)
# The tenant feed never ends by design (it follows the tenant until the client leaves), so a
# generated request would wait for the end of a stream that has none; it takes no parameter
# but the key, and its refusals and events have their own tests (tests/console/test_feed.py).
schema = schemathesis.openapi.from_asgi("/openapi.json", _app).exclude(path="/v1/feed")


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_api(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {_KEY}"})
    # Refusals the document cannot express, so the positive-data check cannot know them:
    # a listing cursor is opaque (one matching its pattern but not issued by the store is
    # refused), and free-form JSON values must fit the stores' encoding (integers of at most
    # 64 bits). Both are 422s with a clear message; every other check still applies.
    opaque = case.method == "GET" and case.operation.path in ("/v1/sessions",
                                                               "/v1/decisions/inbox")
    too_big = response.status_code == 422 and "64 bits" in response.text
    excluded = [positive_data_acceptance] if opaque or too_big else []
    # A body over the server's size limit is refused before it is read, with a 413 (which the
    # check does not count among refusals): for an invalid body that is the right answer too.
    if response.status_code == 413 and "payload_too_large" in response.text:
        excluded.append(negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)
