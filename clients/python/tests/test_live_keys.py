"""Every method of client.keys, end to end against a live server."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta, timezone
from typing import Optional

import pytest

import tronch
from tronch import ConflictError, CreatedKey, Key, RateLimitPolicy, Refill, Verification


def test_create_with_every_field_and_get(client: tronch.Client, owner: str) -> None:
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    created = client.keys.create(
        name="Acme production",
        owner_id=owner,
        environment="test",
        scopes=["orders:read", "orders:write"],
        meta={"plan": "pro", "seats": 3},
        expires_at=expires,
        allowed_ips=["203.0.113.0/24", "10.1.2.3"],
        ratelimits=[RateLimitPolicy(limit=100, period_seconds=60), {"name": "daily", "limit": 1000, "period_seconds": 86400}],
        remaining=1000,
        refill=Refill(interval="monthly", amount=1000),
    )
    assert isinstance(created, CreatedKey)
    assert created.key.startswith("tronch_sk_test_")
    assert created.key.startswith(created.start) and created.key.endswith(created.end)
    assert created.hint == f"{created.start}\u2026{created.end}"
    assert created.name == "Acme production"
    assert created.owner_id == owner
    assert created.environment == "test"
    assert created.status == "active"
    assert created.enabled is True
    assert created.scopes == ["orders:read", "orders:write"]
    assert created.meta == {"plan": "pro", "seats": 3}
    assert created.expires_at == expires
    assert created.allowed_ips == ["203.0.113.0/24", "10.1.2.3/32"]  # canonical CIDR form
    assert created.ratelimits == [
        RateLimitPolicy(name="default", limit=100, period_seconds=60, burst=100),
        RateLimitPolicy(name="daily", limit=1000, period_seconds=86400, burst=1000),
    ]
    assert created.remaining == 1000
    assert created.refill == Refill(interval="monthly", amount=1000)
    assert isinstance(created.created_at, datetime) and created.created_at.tzinfo is not None
    assert created.raw["key"] == created.key
    # The secret is never in the repr (nor str) of the answer.
    assert created.key not in repr(created)
    assert created.key not in str(created)

    fetched = client.keys.get(created.id)
    assert type(fetched) is Key
    assert not hasattr(fetched, "key")
    assert "key" not in fetched.raw
    for name in ("id", "name", "owner_id", "environment", "scopes", "meta", "expires_at", "allowed_ips",
                 "ratelimits", "remaining", "refill", "start", "end", "created_at"):
        assert getattr(fetched, name) == getattr(created, name), name


def test_create_with_string_timestamp_and_defaults(client: tronch.Client) -> None:
    created = client.keys.create(expires_at="2099-01-31T00:00:00+02:00")
    assert created.expires_at == datetime(2099, 1, 30, 22, 0, tzinfo=timezone.utc)
    assert created.environment == "live"
    assert created.scopes == [] and created.meta == {} and created.name is None
    assert created.remaining is None and created.refill is None


def test_list_follows_every_page(client: tronch.Client, owner: str) -> None:
    ids = [client.keys.create(name=f"page test {i}", owner_id=owner).id for i in range(5)]

    pages = list(client.keys.list(owner_id=owner, limit=2).pages())
    assert [len(p.data) for p in pages] == [2, 2, 1]
    assert pages[0].next_cursor and pages[1].next_cursor and pages[2].next_cursor is None

    listed = list(client.keys.list(owner_id=owner, limit=2))
    assert all(isinstance(k, Key) for k in listed)
    assert [k.id for k in listed] == list(reversed(ids))  # newest first, no repeats, nothing missing

    # The iterator is lazy: islice stops after the first page.
    first_two = list(itertools.islice(client.keys.list(owner_id=owner, limit=2), 2))
    assert [k.id for k in first_two] == [ids[4], ids[3]]

    # Resuming from a cursor.
    resumed = list(client.keys.list(owner_id=owner, limit=2, cursor=pages[0].next_cursor))
    assert [k.id for k in resumed] == [ids[2], ids[1], ids[0]]


def test_list_filters(client: tronch.Client, owner: str) -> None:
    soon = client.keys.create(name="soon", owner_id=owner, environment="test",
                              expires_at=datetime.now(timezone.utc) + timedelta(days=2))
    later = client.keys.create(name="later", owner_id=owner, expires_at=datetime.now(timezone.utc) + timedelta(days=60))
    gone = client.keys.create(name="gone", owner_id=owner)
    client.keys.revoke(gone.id)

    def names(**filters: object) -> "set[Optional[str]]":
        return {k.name for k in client.keys.list(owner_id=owner, **filters)}  # type: ignore[arg-type]

    assert names() == {"soon", "later", "gone"}
    assert names(environment="test") == {"soon"}
    assert names(status="revoked") == {"gone"}
    assert names(status="active") == {"soon", "later"}
    assert names(name_prefix="so") == {"soon"}
    assert names(expiring_within="7d") == {"soon"}
    assert names(expiring_within=timedelta(days=90)) == {"soon", "later"}
    assert names(expiring_within=3600) == set()
    assert soon.id and later.id


def test_update(client: tronch.Client, owner: str) -> None:
    created = client.keys.create(name="before", owner_id=owner, scopes=["orders:read"], meta={"plan": "pro"},
                                 expires_at=datetime.now(timezone.utc) + timedelta(days=1), allowed_ips=["10.0.0.0/8"],
                                 remaining=10)
    updated = client.keys.update(
        created.id,
        name="after",
        meta={"plan": "enterprise"},
        allowed_ips=[],
        scopes=["orders:read", "orders:write"],
        ratelimits=[RateLimitPolicy(name="burst", limit=5, period_seconds=1, burst=10)],
    )
    assert isinstance(updated, Key)
    assert updated.name == "after"
    assert updated.meta == {"plan": "enterprise"}
    assert updated.allowed_ips == []
    assert updated.scopes == ["orders:read", "orders:write"]
    assert updated.ratelimits == [RateLimitPolicy(name="burst", limit=5, period_seconds=1, burst=10)]
    assert updated.owner_id == owner  # left out: unchanged
    assert updated.expires_at == created.expires_at
    assert updated.remaining == 10

    # None clears the nullable fields.
    cleared = client.keys.update(created.id, name=None, expires_at=None, remaining=None)
    assert cleared.name is None and cleared.expires_at is None and cleared.remaining is None
    assert cleared.owner_id == owner

    disabled = client.keys.update(created.id, enabled=False, expires_at="2099-12-31T23:59:59Z")
    assert disabled.enabled is False
    assert disabled.expires_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert client.keys.get(created.id) == disabled


def test_rotate(client: tronch.Client, owner: str) -> None:
    old = client.keys.create(name="rotating", owner_id=owner, scopes=["orders:read"])
    new = client.keys.rotate(old.id, grace_period_seconds=3600)
    assert isinstance(new, CreatedKey)
    assert new.id != old.id and new.key != old.key
    assert new.rotated_from == old.id
    assert new.name == "rotating" and new.scopes == ["orders:read"] and new.owner_id == owner
    assert new.key not in repr(new)

    old_now = client.keys.get(old.id)
    assert old_now.status == "active"
    assert old_now.grace_until is not None
    assert timedelta(minutes=59) < old_now.grace_until - datetime.now(timezone.utc) <= timedelta(hours=1)

    # Both work during the grace period.
    assert client.keys.verify(old.key).code == "VALID"
    assert client.keys.verify(new.key).code == "VALID"

    # A key is rotated once.
    with pytest.raises(ConflictError) as info:
        client.keys.rotate(old.id)
    assert info.value.status == 409 and info.value.code == "CONFLICT"

    # Without a grace period the old key is revoked at once; expires_at sets the successor's expiry.
    newest = client.keys.rotate(new.id, expires_at=datetime(2099, 1, 1, tzinfo=timezone.utc))
    assert newest.expires_at == datetime(2099, 1, 1, tzinfo=timezone.utc)
    assert client.keys.get(new.id).status == "revoked"
    assert client.keys.verify(new.key).code == "REVOKED"
    never = client.keys.rotate(newest.id, grace_period_seconds=timedelta(seconds=0), expires_at=None)
    assert never.expires_at is None


def test_rotation_grace_period_ends(client: tronch.Client) -> None:
    old = client.keys.create(name="short grace")
    client.keys.rotate(old.id, grace_period_seconds=1)
    time.sleep(1.1)
    verdict = client.keys.verify(old.key)
    assert verdict.valid is False and verdict.code == "EXPIRED"
    assert client.keys.get(old.id).status == "expired"


def test_verify_outcomes(client: tronch.Client, verifier_key: str, owner: str) -> None:
    customer = client.keys.create(name="customer", owner_id=owner, scopes=["orders:read", "orders:write"],
                                  meta={"plan": "pro"}, allowed_ips=["203.0.113.0/24"])
    with tronch.Client(client.base_url, api_key=verifier_key) as backend:
        valid = backend.keys.verify(customer.key, scopes=["orders:read"], ip="203.0.113.7")
        assert isinstance(valid, Verification)
        assert valid.valid is True and valid.code == "VALID" and bool(valid) is True
        assert valid.key_id == customer.id
        assert valid.owner_id == owner
        assert valid.scopes == ["orders:read", "orders:write"]
        assert valid.meta == {"plan": "pro"}
        assert valid.environment == "live"
        assert valid.ratelimits and valid.ratelimits[0].name == "default"

        scopes = backend.keys.verify(customer.key, scopes=["orders:delete"], ip="203.0.113.7")
        assert (scopes.valid, scopes.code, bool(scopes)) == (False, "INSUFFICIENT_SCOPES", False)
        assert scopes.key_id == customer.id

        forbidden = backend.keys.verify(customer.key, scopes=["orders:read"])  # allowlist without ip
        assert (forbidden.valid, forbidden.code) == (False, "FORBIDDEN")

        unknown = backend.keys.verify("tronch_sk_live_not-a-real-key")
        assert (unknown.valid, unknown.code) == (False, "NOT_FOUND")
        assert unknown.key_id is None and unknown.scopes is None and unknown.meta is None

        client.keys.revoke(customer.id)
        revoked = backend.keys.verify(customer.key, ip="203.0.113.7")
        assert (revoked.valid, revoked.code, revoked.key_id) == (False, "REVOKED", customer.id)


def test_verify_disabled_rate_limited_and_credits(client: tronch.Client) -> None:
    disabled = client.keys.create(enabled=False)
    assert client.keys.verify(disabled.key).code == "DISABLED"

    limited = client.keys.create(ratelimits=[{"limit": 1, "period_seconds": 3600}])
    first = client.keys.verify(limited.key)
    assert first.code == "VALID"
    assert first.ratelimits is not None and first.ratelimits[0].remaining == 0
    second = client.keys.verify(limited.key)
    assert (second.valid, second.code) == (False, "RATE_LIMITED")

    credits = client.keys.create(remaining=3)
    assert client.keys.verify(credits.key, cost=0).remaining == 3
    assert client.keys.verify(credits.key, cost=2).remaining == 1
    exceeded = client.keys.verify(credits.key, cost=2)
    assert (exceeded.valid, exceeded.code, exceeded.remaining) == (False, "USAGE_EXCEEDED", 1)


def test_revoke(client: tronch.Client) -> None:
    created = client.keys.create(name="to revoke")
    revoked = client.keys.revoke(created.id)
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    again = client.keys.revoke(created.id)  # idempotent
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(ConflictError):
        client.keys.update(created.id, name="too late")
    assert client.keys.verify(created.key).code == "REVOKED"


def test_import_plaintext_and_sha256_keys(client: tronch.Client, owner: str) -> None:
    import hashlib
    import secrets

    plain = f"legacy_{secrets.token_hex(16)}"
    hashed = f"legacy_{secrets.token_hex(16)}"
    keys = client.keys.import_keys(
        [
            {"key": plain, "name": "from the old system", "owner_id": owner, "scopes": ["orders:read"]},
            {"hash": {"algorithm": "sha256", "value": hashlib.sha256(hashed.encode()).hexdigest()}, "owner_id": owner},
        ]
    )
    assert [k.owner_id for k in keys] == [owner, owner]
    assert keys[0].name == "from the old system"
    assert client.keys.verify(plain, scopes=["orders:read"]).code == "VALID"
    assert client.keys.verify(hashed).code == "VALID"
    assert client.keys.verify(hashed).code == "VALID"
    with pytest.raises(ConflictError):
        client.keys.import_keys([{"key": plain}])
    with pytest.raises(tronch.ValidationError) as invalid:
        client.keys.import_keys([{"key": "short"}])
    assert invalid.value.errors[0].field == "keys[0].key"
