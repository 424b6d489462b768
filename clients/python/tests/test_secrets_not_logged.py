"""The API key and created secrets never show in repr(), str() or logs (httpx, httpcore and tronch at
DEBUG)."""

from __future__ import annotations

import logging
import traceback

import pytest

import tronch
from tronch import AuthenticationError, ServiceUnavailableError

from stub import StubServer, ok, problem

LOGGERS = ("httpx", "httpcore", "tronch")


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(repr(record.__dict__))
    return "\n".join(parts)


def test_repr_of_the_client_hides_the_key(base_url: str, root_key: str) -> None:
    client = tronch.Client(base_url, api_key=root_key)
    try:
        for text in (repr(client), str(client), repr(client.keys), repr(client.audit_logs)):
            assert root_key not in text
            # Not even a recognisable part of it.
            assert root_key[15:23] not in text
        assert "<redacted>" in repr(client)
        client.set_api_key("tronch_sk_live_" + "Z" * 38)
        assert "Z" * 10 not in repr(client)
    finally:
        client.close()


def test_no_key_in_debug_logs(base_url: str, root_key: str, caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    wrong_key = "tronch_sk_live_" + "W" * 38
    with tronch.Client(base_url, api_key=root_key) as client:
        created = client.keys.create(name="secret holder", scopes=["orders:read"])
        client.keys.get(created.id)
        list(client.keys.list(limit=1))
        verdict = client.keys.verify(created.key, scopes=["orders:read"])
        rotated = client.keys.rotate(created.id)
        client.set_api_key(wrong_key)
        with pytest.raises(AuthenticationError) as info:
            client.keys.get(created.id)
        error_text = str(info.value) + repr(info.value) + "".join(traceback.format_exception(
            type(info.value), info.value, info.value.__traceback__))

    assert verdict.valid
    logged = everything_logged(caplog)
    assert "api/v1/keys" in logged, "httpx should have logged the requests"
    assert any(r.name.startswith("httpcore") for r in caplog.records), "httpcore should have logged at DEBUG"
    for secret in (root_key, wrong_key, created.key, rotated.key):
        assert secret not in logged
        assert secret not in error_text
        assert secret not in repr(created) + repr(rotated) + repr(verdict)


def test_no_key_in_retry_logs(stub: StubServer, caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    api_key = "tronch_sk_live_" + "R" * 38
    stub.script(problem(503, "SERVICE_UNAVAILABLE", "down", retry_after="1"), ok({"id": "x"}),
                problem(503, "SERVICE_UNAVAILABLE", "down", retry_after="999"))
    with tronch.Client(stub.url, api_key=api_key, sleep=lambda s: None) as client:
        client.keys.get("x")
        with pytest.raises(ServiceUnavailableError) as info:
            client.keys.get("x")
    logged = everything_logged(caplog)
    assert "retrying" in logged and "max_retry_wait" in logged
    assert api_key not in logged
    assert api_key not in str(info.value) + repr(info.value)
    assert stub.requests[0].headers["X-API-Key"] == api_key


def test_bad_key_values_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError) as info:
        tronch.Client("http://127.0.0.1:1", api_key="tronch_sk_live_secret\nInjected: header")
    assert "secret" not in str(info.value)
