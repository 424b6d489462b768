"""keys.usage and audit_logs.list against a live server."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

import tronch
from tronch import AuditEntry, AuthenticationError, KeyUsage

from conftest import no_sleep


def wait_for(predicate, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """Usage counters reach the database every TRONCH_USAGE_FLUSH_INTERVAL (0.1 s in these tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_usage(client: tronch.Client, base_url: str) -> None:
    customer = client.keys.create(name="usage", scopes=["orders:read"])
    for _ in range(3):
        assert client.keys.verify(customer.key, scopes=["orders:read"]).valid
    assert client.keys.verify(customer.key, scopes=["orders:write"]).code == "INSUFFICIENT_SCOPES"
    # The customer key calls Tronch's API itself (and is refused: it lacks keys:read).
    with tronch.Client(base_url, api_key=customer.key, sleep=no_sleep) as c:
        with pytest.raises(tronch.PermissionDeniedError):
            c.keys.get(customer.id)

    def counted() -> KeyUsage | None:
        u = client.keys.usage(customer.id, granularity="minute")
        done = u.totals.verifications.get("VALID") == 3 and u.totals.requests.get("4xx") == 1
        return u if done else None

    usage = wait_for(counted)
    assert usage is not None, client.keys.usage(customer.id, granularity="minute")
    assert isinstance(usage, KeyUsage)
    assert usage.key_id == customer.id
    assert usage.granularity == "minute"
    assert usage.totals.verifications == {"VALID": 3, "INSUFFICIENT_SCOPES": 1}
    assert usage.totals.endpoints == {"GET /api/v1/keys/{id}": 1}
    assert usage.latency_ms.p50 is not None
    assert sum(b.verifications.get("VALID", 0) for b in usage.series) == 3
    assert all(b.start is not None for b in usage.series)
    assert usage.from_ is not None and usage.to is not None and usage.from_ < usage.to

    # Explicit bounds and granularity.
    now = datetime.now(timezone.utc)
    daily = client.keys.usage(customer.id, granularity="day", from_=now - timedelta(days=2), to=now + timedelta(hours=1))
    assert daily.granularity == "day"
    assert daily.totals.verifications.get("VALID") == 3
    past = client.keys.usage(customer.id, granularity="hour", from_="2020-01-01T00:00:00Z", to="2020-01-02T00:00:00Z")
    assert past.series == [] and past.totals.verifications == {}

    with pytest.raises(tronch.ValidationError):
        client.keys.usage(customer.id, granularity="week")


def test_audit_logs(client: tronch.Client, base_url: str, root_key: str) -> None:
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    created = client.keys.create(name="audited", scopes=["orders:read"])
    client.keys.update(created.id, name="audited (renamed)")
    successor = client.keys.rotate(created.id, grace_period_seconds=60)
    client.keys.revoke(successor.id)

    entries = list(client.audit_logs.list(target_id=created.id, limit=2))
    assert all(isinstance(e, AuditEntry) for e in entries)
    assert [e.action for e in entries] == ["key.rotated", "key.updated", "key.created"]  # newest first
    root_id = entries[0].actor.id
    for entry in entries:
        assert entry.actor.kind == "key" and entry.actor.id == root_id
        assert entry.target is not None and entry.target.type == "key" and entry.target.id == created.id
        assert entry.outcome == "success"
        assert entry.request_id and entry.client_ip == "127.0.0.1"
        assert entry.user_agent and entry.user_agent.startswith("tronch-python/")
        assert len(entry.hash) == 64 and len(entry.previous_hash) == 64
        assert entry.time is not None and entry.time >= started
    assert entries[2].details.get("name") == "audited"
    assert entries[1].details.get("fields") == ["name"]
    # Sequence numbers go down, and each page follows the cursor.
    assert entries[0].sequence > entries[1].sequence > entries[2].sequence

    revoked = list(client.audit_logs.list(action="key.revoked", target_id=successor.id))
    assert len(revoked) == 1 and revoked[0].target and revoked[0].target.id == successor.id

    by_actor = list(client.audit_logs.list(actor_id=root_id, target_type="key", since=started, limit=100))
    assert {e.target.id for e in by_actor if e.target} >= {created.id, successor.id}

    # A failed authentication is recorded as a failure with no actor key.
    with tronch.Client(base_url, api_key="tronch_sk_live_" + "C" * 38, sleep=no_sleep) as stranger:
        with pytest.raises(AuthenticationError):
            stranger.keys.get(created.id)
    failures = list(client.audit_logs.list(action="auth.failed", outcome="failure", since=started))
    assert failures and failures[0].outcome == "failure" and failures[0].target is None
    assert failures[0].actor.kind == "anonymous"

    # since/until (the API's from/to) bound the time range; from_/to are the same.
    assert list(client.audit_logs.list(until=started - timedelta(days=365))) == []
    window = list(client.audit_logs.list(from_=started, to=datetime.now(timezone.utc) + timedelta(seconds=5),
                                         target_id=created.id))
    assert len(window) == 3
    with pytest.raises(TypeError):
        client.audit_logs.list(since=started, from_=started)
