"""The gateway's guards without a lab: repeated calls, the bearer token, loopback only."""

import time

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mcp_gateway.http import BearerToken, NotLoopback, loopback
from mcp_gateway.repeats import RepeatGuard


def test_an_identical_call_is_refused_within_the_window_and_allowed_after() -> None:
    guard = RepeatGuard(window_s=0.3)
    assert guard.refuse("series", {"metric": "cpu", "service": "target"}) is None
    refusal = guard.refuse("series", {"service": "target", "metric": "cpu"})  # same call
    assert refusal is not None and "identical call" in refusal
    assert guard.refuse("series", {"metric": "cpu", "service": "target-db"}) is None
    time.sleep(0.35)
    assert guard.refuse("series", {"metric": "cpu", "service": "target"}) is None


def test_the_bearer_token_is_required_on_every_request() -> None:
    async def hello(_: object) -> PlainTextResponse:
        return PlainTextResponse("inside")

    app = BearerToken(Starlette(routes=[Route("/mcp", hello)]), "s3cret-token")
    client = TestClient(app)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        refused = client.get("/mcp", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "unauthorized"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/mcp", headers={"Authorization": "Bearer s3cret-token"}).text == "inside"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.org"])
def test_the_gateway_listens_on_loopback_only(host: str) -> None:
    with pytest.raises(NotLoopback):
        loopback(host)
    assert loopback("127.0.0.1") == "127.0.0.1" and loopback("::1") == "::1"
