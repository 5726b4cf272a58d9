"""JSON request logs: one object per line with the request fields and correlation id."""

import json
import logging

import pytest

from target_server.logs import CorrelationFilter, JsonFormatter
from tests.support.asgi import TestClient


def test_request_log_line_is_json_with_request_fields(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="target_server.access")
    client.get("/products/1", headers={"X-Correlation-ID": "corr-1"})
    records = [r for r in caplog.records if r.name == "target_server.access"]
    assert records, "no access log record"
    line = JsonFormatter().format(records[-1])
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "request"
    assert entry["level"] == "info"
    assert entry["route"] == "/products/{product_id}"
    assert entry["method"] == "GET"
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0
    assert {"ts", "logger"} <= set(entry)


def test_correlation_filter_stamps_records() -> None:
    from target_server.logs import correlation_id

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    token = correlation_id.set("cid-9")
    try:
        CorrelationFilter().filter(record)
    finally:
        correlation_id.reset(token)
    assert json.loads(JsonFormatter().format(record))["correlation_id"] == "cid-9"
