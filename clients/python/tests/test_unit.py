"""Unit tests without a server: models, requests as sent (httpx.MockTransport), error mapping, retries."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime as http_date
from typing import Any, Callable, Dict, List, Optional

import httpx
import pytest

import tronch
from tronch import (
    AuditEntry,
    CreatedKey,
    Key,
    KeyUsage,
    RateLimitError,
    TronchError,
    ValidationError,
    Verification,
)
from tronch._client import _parse_retry_after
from tronch._models import format_datetime, parse_datetime

API_KEY = "tronch_sk_live_unitunitunitunitunitunitunitunitunitun"


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> tronch.Client:
    kwargs.setdefault("sleep", lambda s: None)
    return tronch.Client("http://tronch.test", api_key=API_KEY, transport=httpx.MockTransport(handler), **kwargs)


def json_response(status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> httpx.Response:
    content_type = "application/problem+json" if status >= 400 else "application/json"
    return httpx.Response(status, json=body, headers={"Content-Type": content_type, **(headers or {})})


# -- models ----------------------------------------------------------------------------------------------


def test_parse_datetime() -> None:
    utc = timezone.utc
    assert parse_datetime("2030-01-31T00:00:00.000Z") == datetime(2030, 1, 31, tzinfo=utc)
    assert parse_datetime("2030-01-31T00:00:00Z") == datetime(2030, 1, 31, tzinfo=utc)
    assert parse_datetime("2030-01-31T02:00:00.5+02:00") == datetime(2030, 1, 31, 0, 0, 0, 500000, tzinfo=utc)
    assert parse_datetime("2030-01-31T00:00:00.123456789Z") == datetime(2030, 1, 31, 0, 0, 0, 123456, tzinfo=utc)
    assert parse_datetime(None) is None
    assert parse_datetime("yesterday") is None
    assert parse_datetime(12) is None


def test_format_datetime() -> None:
    assert format_datetime(datetime(2030, 1, 31, 1, 2, 3, 456789, tzinfo=timezone.utc)) == "2030-01-31T01:02:03.456Z"
    cet = timezone(timedelta(hours=1))
    assert format_datetime(datetime(2030, 1, 31, 1, 0, tzinfo=cet)) == "2030-01-31T00:00:00.000Z"
    assert format_datetime("2030-01-31T00:00:00Z") == "2030-01-31T00:00:00Z"
    with pytest.raises(ValueError):
        format_datetime(datetime(2030, 1, 31))


def test_models_ignore_unknown_fields_and_tolerate_missing_ones() -> None:
    key = Key.from_dict({"id": "k1", "status": "active", "brand_new_field": {"x": 1}, "scopes": ["a"],
                         "ratelimits": [{"name": "d", "limit": 1, "period_seconds": 2, "burst": 3, "new": True}]})
    assert key.id == "k1" and key.scopes == ["a"] and key.meta == {} and key.name is None
    assert key.ratelimits[0].burst == 3
    assert key.raw["brand_new_field"] == {"x": 1}
    assert Key.from_dict({}).id == ""

    verdict = Verification.from_dict({"valid": False, "code": "SOMETHING_NEW", "confidence": 0.5})
    assert verdict.valid is False and verdict.code == "SOMETHING_NEW" and not verdict
    assert verdict.raw["confidence"] == 0.5

    usage = KeyUsage.from_dict({"key_id": "k1", "from": "2030-01-01T00:00:00Z", "granularity": "hour",
                                "series": [{"start": "2030-01-01T00:00:00Z", "verifications": {"VALID": 2}}],
                                "totals": {"verifications": {"VALID": 2}}, "percentiles": {}})
    assert usage.series[0].verifications == {"VALID": 2} and usage.series[0].requests == {}
    assert usage.totals.endpoints == {} and usage.latency_ms.p99 is None and usage.to is None

    entry = AuditEntry.from_dict({"id": "e1", "sequence": 3, "actor": {"kind": "system", "id": None},
                                  "action": "server.started", "outcome": "success", "target": None,
                                  "signature": "new"})
    assert entry.actor.kind == "system" and entry.target is None and entry.details == {}


def test_created_key_repr_hides_the_secret() -> None:
    created = CreatedKey.from_dict({"id": "k1", "start": "tronch_sk_live_abcd", "end": "wxyz",
                                    "key": "tronch_sk_live_abcdSECRETSECRETSECRETSECRETSECRETwxyz"})
    assert created.key.endswith("wxyz")
    assert "SECRET" not in repr(created) and "SECRET" not in str(created)
    assert isinstance(created, Key)


def test_verification_truthiness() -> None:
    assert bool(Verification.from_dict({"valid": True, "code": "VALID"}))
    assert not Verification.from_dict({"valid": False, "code": "REVOKED"})
    assert not Verification.from_dict({"valid": "yes", "code": "VALID"})  # only a JSON true counts


# -- requests as sent ------------------------------------------------------------------------------------


def test_requests_carry_the_key_and_the_documented_fields() -> None:
    seen: List[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/keys/verify":
            return json_response(200, {"valid": True, "code": "VALID"})
        return json_response(201, {"id": "k1", "key": API_KEY})

    with mock_client(handler) as client:
        client.keys.create(name="n", scopes=["a:b"], expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc),
                           ratelimits=[tronch.RateLimitPolicy(limit=5, period_seconds=60)], refill=tronch.Refill("daily", 5),
                           remaining=5)
        client.keys.verify("tronch_sk_live_x", scopes=["a:b"], ip="10.0.0.1", cost=0)
        client.keys.verify("tronch_sk_live_y")
        client.keys.rotate("k1", grace_period_seconds=timedelta(hours=1), expires_at=None)
    assert all(r.headers["X-API-Key"] == API_KEY for r in seen)
    assert all("authorization" not in r.headers for r in seen)
    assert seen[0].headers["User-Agent"].startswith("tronch-python/")
    assert json.loads(seen[0].content) == {
        "name": "n", "scopes": ["a:b"], "expires_at": "2030-01-01T00:00:00.000Z",
        "ratelimits": [{"name": "default", "limit": 5, "period_seconds": 60}],
        "refill": {"interval": "daily", "amount": 5}, "remaining": 5,
    }
    assert json.loads(seen[1].content) == {"key": "tronch_sk_live_x", "scopes": ["a:b"], "ip": "10.0.0.1", "cost": 0}
    assert json.loads(seen[2].content) == {"key": "tronch_sk_live_y"}
    assert seen[3].url.path == "/api/v1/keys/k1/rotate"
    assert json.loads(seen[3].content) == {"grace_period_seconds": 3600, "expires_at": None}


def test_update_sends_only_what_is_given_and_none_as_null() -> None:
    bodies: List[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.method, request.url.path, json.loads(request.content)))
        return json_response(200, {"id": "k1"})

    with mock_client(handler) as client:
        client.keys.update("k1", name=None, meta={"a": 1})
        client.keys.update("k1")
        client.keys.update("k1", expires_at=None, remaining=None, refill=None, enabled=False, allowed_ips=[])
    assert bodies == [
        ("PATCH", "/api/v1/keys/k1", {"name": None, "meta": {"a": 1}}),
        ("PATCH", "/api/v1/keys/k1", {}),
        ("PATCH", "/api/v1/keys/k1",
         {"expires_at": None, "remaining": None, "refill": None, "enabled": False, "allowed_ips": []}),
    ]


def test_a_single_string_is_not_a_list_of_scopes() -> None:
    with mock_client(lambda r: json_response(200, {})) as client:
        with pytest.raises(TypeError):
            client.keys.create(scopes="orders:read")
        with pytest.raises(TypeError):
            client.keys.verify("k", scopes="orders:read")


def test_list_follows_cursors_and_maps_parameters() -> None:
    urls: List[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(request.url)
        cursor = request.url.params.get("cursor")
        pages = {None: (["a", "b"], "c1"), "c1": (["c", "d"], "c2"), "c2": (["e"], None)}
        ids, next_cursor = pages[cursor]
        return json_response(200, {"data": [{"id": i} for i in ids], "next_cursor": next_cursor})

    with mock_client(handler) as client:
        paginator = client.keys.list(owner_id="cus_1", status="active", expiring_within=timedelta(days=7), limit=2)
        assert urls == []  # lazy
        assert [k.id for k in paginator] == ["a", "b", "c", "d", "e"]
    assert len(urls) == 3
    assert dict(urls[0].params) == {"owner_id": "cus_1", "status": "active", "expiring_within": "604800", "limit": "2"}
    assert dict(urls[1].params)["cursor"] == "c1"


def test_audit_parameters_use_the_api_names() -> None:
    urls: List[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(request.url)
        return json_response(200, {"data": [], "next_cursor": None})

    since = datetime(2030, 1, 1, tzinfo=timezone.utc)
    with mock_client(handler) as client:
        list(client.audit_logs.list(actor_id="a", action="key.created", target_type="key", target_id="t",
                                    outcome="success", since=since, until="2030-01-02T00:00:00Z", limit=10))
    assert urls[0].path == "/api/v1/audit-logs"
    assert dict(urls[0].params) == {
        "actor_id": "a", "action": "key.created", "target_type": "key", "target_id": "t", "outcome": "success",
        "from": "2030-01-01T00:00:00.000Z", "to": "2030-01-02T00:00:00Z", "limit": "10",
    }


def test_a_repeated_cursor_stops_the_iteration() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(200, {"data": [{"id": "a"}], "next_cursor": "same"})

    with mock_client(handler) as client:
        with pytest.raises(TronchError):
            list(client.keys.list())


def test_base_url_forms() -> None:
    for base in ("http://h:1", "http://h:1/", "http://h:1/api/v1", "http://h:1/api/v1/"):
        paths: List[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            paths.append(str(request.url))
            return json_response(200, {"id": "k"})

        with tronch.Client(base, api_key=API_KEY, transport=httpx.MockTransport(handler)) as client:
            client.keys.get("k")
        assert paths == ["http://h:1/api/v1/keys/k"]


def test_environment_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRONCH_URL", "http://from-env:9")
    monkeypatch.setenv("TRONCH_API_KEY", API_KEY)
    with tronch.Client() as client:
        assert client.base_url == "http://from-env:9" and client.has_api_key
    monkeypatch.delenv("TRONCH_URL")
    monkeypatch.delenv("TRONCH_API_KEY")
    with tronch.Client() as client:
        assert client.base_url == tronch.DEFAULT_BASE_URL and not client.has_api_key


# -- errors and retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, code, cls",
    [
        (400, "VALIDATION_FAILED", tronch.ValidationError),
        (400, "MALFORMED_JSON", tronch.ValidationError),
        (401, "UNAUTHENTICATED", tronch.AuthenticationError),
        (403, "FORBIDDEN", tronch.PermissionDeniedError),
        (404, "NOT_FOUND", tronch.NotFoundError),
        (409, "CONFLICT", tronch.ConflictError),
        (413, "PAYLOAD_TOO_LARGE", tronch.TronchError),
        (429, "RATE_LIMITED", tronch.RateLimitError),
        (500, "INTERNAL", tronch.TronchError),
        (503, "SERVICE_UNAVAILABLE", tronch.ServiceUnavailableError),
    ],
)
def test_error_mapping(status: int, code: str, cls: type) -> None:
    body = {"type": "urn:tronch:problem:x", "title": "t", "status": status, "detail": "d", "code": code,
            "request_id": "req_1"}
    with mock_client(lambda r: json_response(status, body, {"Retry-After": "99"}), max_retries=0) as client:
        with pytest.raises(cls) as info:
            client.keys.get("k")
    error = info.value
    assert type(error) is cls and isinstance(error, TronchError)
    assert (error.status, error.code, error.detail, error.request_id) == (status, code, "d", "req_1")
    assert error.body == body
    if isinstance(error, (tronch.RateLimitError, tronch.ServiceUnavailableError)):
        assert error.retry_after == 99


def test_validation_errors_list() -> None:
    body = {"status": 400, "code": "VALIDATION_FAILED", "detail": "2 fields are invalid", "request_id": "r",
            "errors": [{"field": "name", "message": "must not be empty"}, {"field": "scopes[1]", "message": "bad"}]}
    with mock_client(lambda r: json_response(400, body)) as client:
        with pytest.raises(ValidationError) as info:
            client.keys.create(name="")
    assert info.value.errors == [tronch.FieldError("name", "must not be empty"), tronch.FieldError("scopes[1]", "bad")]
    assert "scopes[1]: bad" in str(info.value)


def test_error_without_a_problem_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="Bad gateway from nginx", headers={"X-Request-Id": "req_proxy"})

    with mock_client(handler) as client:
        with pytest.raises(TronchError) as info:
            client.keys.get("k")
    assert info.value.status == 502 and info.value.code is None
    assert "Bad gateway from nginx" in info.value.detail and info.value.request_id == "req_proxy"


def test_429_retried_then_succeeds_with_injected_sleep() -> None:
    answers = [json_response(429, {"code": "RATE_LIMITED", "detail": "slow down"}, {"Retry-After": "3"}),
               json_response(201, {"id": "k1", "key": API_KEY})]
    sleeps: List[float] = []
    with mock_client(lambda r: answers.pop(0), sleep=sleeps.append) as client:
        assert client.keys.create().id == "k1"
    assert len(sleeps) == 1 and sleeps[0] >= 3


def test_429_with_a_long_retry_after_raises_at_once() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return json_response(429, {"code": "RATE_LIMITED", "detail": "slow down"}, {"Retry-After": "31"})

    sleeps: List[float] = []
    with mock_client(handler, sleep=sleeps.append) as client:
        with pytest.raises(RateLimitError) as info:
            client.keys.create()
    assert info.value.retry_after == 31 and len(calls) == 1 and sleeps == []
    with mock_client(handler, sleep=sleeps.append, max_retry_wait=31, max_retries=1) as client:
        with pytest.raises(RateLimitError):
            client.keys.create()
    assert sleeps and sleeps[0] >= 31


def test_connection_errors_retried_only_for_idempotent_methods() -> None:
    calls: List[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("connection refused", request=request)

    with mock_client(handler, max_retries=2) as client:
        with pytest.raises(tronch.APIConnectionError):
            client.keys.get("k")
        with pytest.raises(tronch.APIConnectionError):
            client.keys.revoke("k")
        with pytest.raises(tronch.APIConnectionError):
            client.keys.create(name="x")
        with pytest.raises(tronch.APIConnectionError):
            client.keys.update("k", name="x")
    assert calls == ["GET"] * 3 + ["DELETE"] * 3 + ["POST"] + ["PATCH"]


def test_timeouts_are_api_timeout_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with mock_client(handler, max_retries=0) as client:
        with pytest.raises(tronch.APITimeoutError) as info:
            client.keys.get("k")
    assert isinstance(info.value, tronch.APIConnectionError)
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def test_parse_retry_after() -> None:
    assert _parse_retry_after("12") == 12
    assert _parse_retry_after(" 1.5 ") == 1.5
    assert _parse_retry_after(None) is None and _parse_retry_after("soon") is None
    assert _parse_retry_after("-5") == 0
    later = datetime.now(timezone.utc) + timedelta(seconds=60)
    parsed = _parse_retry_after(http_date(later, usegmt=True))
    assert parsed is not None and 55 <= parsed <= 61


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        tronch.Client("http://h", api_key="")
    with pytest.raises(ValueError):
        tronch.Client("http://h", api_key=API_KEY, max_retries=-1)
    client = tronch.Client("http://h", api_key=f"  {API_KEY}\n")  # whitespace around a key read from a file
    assert client.has_api_key
    client.close()
