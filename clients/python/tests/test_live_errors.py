"""Problem answers of a live server mapped to exceptions, and switching keys."""

from __future__ import annotations

import pytest

import tronch
from tronch import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    TronchError,
    ValidationError,
)

from conftest import no_sleep

WRONG_KEY = "tronch_sk_live_" + "A" * 38


def test_401_with_a_wrong_key(base_url: str) -> None:
    with tronch.Client(base_url, api_key=WRONG_KEY, sleep=no_sleep) as client:
        with pytest.raises(AuthenticationError) as info:
            client.keys.get("01a213e5-0000-7000-8000-000000000000")
    error = info.value
    assert isinstance(error, TronchError)
    assert error.status == 401
    assert error.code == "UNAUTHENTICATED"
    assert error.detail
    assert error.request_id and error.request_id == error.headers.get("x-request-id")
    assert error.headers.get("www-authenticate", "").startswith("Bearer")
    assert error.errors == []


def test_401_without_a_key(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRONCH_API_KEY", raising=False)
    with tronch.Client(base_url, sleep=no_sleep) as client:
        assert client.has_api_key is False
        with pytest.raises(AuthenticationError):
            list(client.keys.list())


def test_403_for_a_key_without_the_scope(base_url: str, verifier_key: str) -> None:
    with tronch.Client(base_url, api_key=verifier_key, sleep=no_sleep) as client:
        with pytest.raises(PermissionDeniedError) as info:
            list(client.keys.list())
        assert info.value.status == 403 and info.value.code == "FORBIDDEN"
        assert "keys:read" in info.value.detail
        with pytest.raises(PermissionDeniedError):
            list(client.audit_logs.list())


def test_403_delegation(client: tronch.Client) -> None:
    support = client.keys.create(name="support", scopes=["keys:read", "keys:write", "orders:read"])
    with tronch.Client(client.base_url, api_key=support.key, sleep=no_sleep) as c:
        with pytest.raises(PermissionDeniedError) as info:
            c.keys.create(scopes=["orders:read", "orders:write"])
        assert "orders:write" in info.value.detail


def test_404(client: tronch.Client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.keys.get("01a213e5-0000-7000-8000-000000000000")
    assert info.value.status == 404 and info.value.code == "NOT_FOUND"
    with pytest.raises(NotFoundError):
        client.keys.usage("01a213e5-0000-7000-8000-000000000000")


def test_400_validation_lists_every_field(client: tronch.Client) -> None:
    with pytest.raises(ValidationError) as info:
        client.keys.create(name="x", allowed_ips=["10.0.0.1/8"], refill={"interval": "weekly", "amount": 1},
                           remaining=5, extra_fields={"colour": "blue"})
    error = info.value
    assert error.status == 400 and error.code == "VALIDATION_FAILED"
    fields = {e.field for e in error.errors}
    assert fields == {"colour", "allowed_ips[0]", "refill.interval"}
    assert all(e.message for e in error.errors)
    assert "allowed_ips[0]" in str(error)

    with pytest.raises(ValidationError) as info:
        client.keys.get("not-a-uuid")
    assert [e.field for e in info.value.errors] == ["id"]

    with pytest.raises(ValidationError) as info:
        list(client.keys.list(limit=500))
    assert [e.field for e in info.value.errors] == ["limit"]

    with pytest.raises(ValidationError) as info:
        client.keys.verify("whatever", scopes=["not a scope!"])
    assert info.value.errors and info.value.errors[0].field.startswith("scopes")


def test_409_on_a_revoked_key(client: tronch.Client) -> None:
    created = client.keys.create()
    client.keys.revoke(created.id)
    with pytest.raises(ConflictError) as info:
        client.keys.rotate(created.id)
    assert info.value.status == 409


def test_path_ids_are_escaped(client: tronch.Client) -> None:
    # An id must never be able to reach another route.
    with pytest.raises(ValidationError):
        client.keys.get("../audit-logs")


def test_set_api_key_switches_the_key(base_url: str, root_key: str, verifier_key: str) -> None:
    with tronch.Client(base_url, api_key=WRONG_KEY, sleep=no_sleep) as client:
        with pytest.raises(AuthenticationError):
            list(client.keys.list(limit=1))
        client.set_api_key(root_key)
        assert next(iter(client.keys.list(limit=1))).id
        client.set_api_key(verifier_key)
        with pytest.raises(PermissionDeniedError):
            list(client.keys.list(limit=1))
        assert client.keys.verify("nope").code == "NOT_FOUND"
        client.set_api_key(None)
        with pytest.raises(AuthenticationError):
            client.keys.verify("nope")
