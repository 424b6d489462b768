"""Unit tests without a server for groups, ACL entries and checks: requests as sent (paths, bodies, query
parameters), principals given as models, the batch limit, models built leniently, and retries."""

from __future__ import annotations

import json
from typing import Any, Callable, List

import httpx
import pytest

import tronch
from tronch import ACLEntry, Decision, DecisionRule, Group, GroupMember, User

API_KEY = "tronch_sk_live_unitunitunitunitunitunitunitunitunitun"


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> tronch.Client:
    kwargs.setdefault("sleep", lambda s: None)
    return tronch.Client("http://tronch.test", api_key=API_KEY, transport=httpx.MockTransport(handler), **kwargs)


def json_response(status: int, body: Any) -> httpx.Response:
    content_type = "application/problem+json" if status >= 400 else "application/json"
    return httpx.Response(status, json=body, headers={"Content-Type": content_type})


GROUP = {"id": "01a2", "name": "ops", "description": None, "mfa_required": False,
         "created_at": "2030-01-01T00:00:00.000Z", "updated_at": "2030-01-01T00:00:00.000Z"}
DECISION = {"allowed": True, "reason": {"rule": "dacl_allow", "entry_id": "e1", "resource": "project:acme"}}


def test_models() -> None:
    group = Group.from_dict({**GROUP, "colour": "red"})
    assert (group.id, group.name, group.description, group.mfa_required) == ("01a2", "ops", None, False)
    assert group.principal == "group:01a2" and group.created_at is not None and group.raw["colour"] == "red"
    assert Group.from_dict({}).name == ""

    member = GroupMember.from_dict({"principal": "user:u1", "type": "user", "added_at": "2030-01-01T00:00:00Z"})
    assert (member.principal, member.type, member.id) == ("user:u1", "user", "u1") and member.added_at

    entry = ACLEntry.from_dict({"id": "e1", "resource": "project:acme", "principal": "group:g1", "action": "*",
                                "effect": "deny", "kind": "dacl", "created_by": "k1"})
    assert (entry.resource, entry.principal, entry.action, entry.effect, entry.kind) == (
        "project:acme", "group:g1", "*", "deny", "dacl")
    assert entry.created_by == "k1" and entry.created_at is None

    decision = Decision.from_dict(DECISION)
    assert decision and decision.allowed and decision.rule == DecisionRule.DACL_ALLOW
    assert (decision.entry_id, decision.resource) == ("e1", "project:acme")
    refused = Decision.from_dict({"allowed": False, "reason": {"rule": "fallback", "entry_id": None, "resource": None}})
    assert not refused and refused.entry_id is None and refused.resource is None
    assert not Decision.from_dict({}) and Decision.from_dict({}).rule == ""
    assert not Decision.from_dict({"allowed": "yes"})  # only true is true

    assert User(id="u1").principal == "user:u1"
    assert tronch.Key(id="k1").principal == "key:k1"


def test_group_requests() -> None:
    seen: List[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.raw_path.decode(), body))
        if request.method == "PUT":
            return httpx.Response(201 if len(seen) == 5 else 204)
        if request.method == "DELETE":
            return httpx.Response(204)
        return json_response(201 if request.method == "POST" else 200, GROUP)

    with mock_client(handler) as client:
        client.groups.create(name="ops")
        client.groups.create(name="dev", description="d", mfa_required=True, extra_fields={"x": 1})
        client.groups.update("g1", description=None)
        client.groups.update("g1", name="n", mfa_required=False)
        assert client.groups.add_member("g1", User(id="u1")) is True
        assert client.groups.add_member("g1", Group(id="g2")) is False
        assert client.groups.add_member("g1", "user:u/1") is False
        assert client.groups.remove_member("g1", "group:g2") is None
        assert client.groups.delete("g1") is None
        with pytest.raises(TypeError):
            client.groups.add_member("g1", 42)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            client.groups.add_member("g1", User())  # no id
    assert seen == [
        ("POST", "/api/v1/groups", {"name": "ops"}),
        ("POST", "/api/v1/groups", {"name": "dev", "description": "d", "mfa_required": True, "x": 1}),
        ("PATCH", "/api/v1/groups/g1", {"description": None}),
        ("PATCH", "/api/v1/groups/g1", {"name": "n", "mfa_required": False}),
        # The ':' of a principal is sent as is: Tronch does not decode %3A in a path.
        ("PUT", "/api/v1/groups/g1/members/user:u1", None),
        ("PUT", "/api/v1/groups/g1/members/group:g2", None),
        ("PUT", "/api/v1/groups/g1/members/user:u%2F1", None),
        ("DELETE", "/api/v1/groups/g1/members/group:g2", None),
        ("DELETE", "/api/v1/groups/g1", None),
    ]


def test_list_parameters_and_spaces() -> None:
    urls: List[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(request.url)
        return json_response(200, {"data": [GROUP], "next_cursor": None})

    with mock_client(handler) as client:
        assert [g.name for g in client.groups.list(q="acme web+", limit=5)] == ["ops"]
        list(client.groups.members("g1", limit=2, cursor="c0"))
        list(client.acl_entries.list(resource="project:acme/web", include_ancestors=True, principal=Group(id="g1")))
        list(client.acl_entries.list(resource="project:acme", include_ancestors=False))
    # A space is %20 (Tronch reads '+' as a plus sign); a '+' is %2B.
    assert urls[0].path == "/api/v1/groups" and urls[0].query == b"q=acme%20web%2B&limit=5"
    assert dict(urls[0].params) == {"q": "acme web+", "limit": "5"}
    assert urls[1].path == "/api/v1/groups/g1/members" and dict(urls[1].params) == {"limit": "2", "cursor": "c0"}
    assert dict(urls[2].params) == {"resource": "project:acme/web", "include_ancestors": "true",
                                    "principal": "group:g1"}
    assert dict(urls[3].params) == {"resource": "project:acme", "include_ancestors": "false"}


def test_entry_and_check_requests() -> None:
    bodies: List[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.url.path, json.loads(request.content)))
        if request.url.path.endswith("/check-batch"):
            return json_response(200, {"results": [DECISION] * len(json.loads(request.content)["checks"])})
        if request.url.path.endswith("/check"):
            return json_response(200, DECISION)
        return json_response(201, {"id": "e1"})

    with mock_client(handler) as client:
        client.acl_entries.create(resource="project:acme", principal=User(id="u1"), action="read", effect="allow")
        client.acl_entries.create(resource="project:acme", principal=tronch.Key(id="k1"), action="*", effect="deny",
                                  kind="dacl")
        decision = client.authz.check(Group(id="g1"), "read", "project:acme/web")
        assert isinstance(decision, Decision) and decision
        decisions = client.authz.check_batch([
            ("user:u1", "read", "project:acme"),
            {"principal": User(id="u2"), "action": "write", "resource": "doc:a"},
        ])
        assert [d.rule for d in decisions] == ["dacl_allow", "dacl_allow"]
    assert bodies == [
        ("/api/v1/acl-entries", {"resource": "project:acme", "principal": "user:u1", "action": "read",
                                 "effect": "allow"}),
        ("/api/v1/acl-entries", {"resource": "project:acme", "principal": "key:k1", "action": "*", "effect": "deny",
                                 "kind": "dacl"}),
        ("/api/v1/authz/check", {"principal": "group:g1", "action": "read", "resource": "project:acme/web"}),
        ("/api/v1/authz/check-batch", {"checks": [
            {"principal": "user:u1", "action": "read", "resource": "project:acme"},
            {"principal": "user:u2", "action": "write", "resource": "doc:a"},
        ]}),
    ]


def test_batch_limits_are_checked_before_sending() -> None:
    calls: List[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return json_response(200, {"results": [DECISION]})

    with mock_client(handler) as client:
        with pytest.raises(ValueError, match="at most 100"):
            client.authz.check_batch([("user:u1", "read", "doc:a")] * (tronch.MAX_BATCH_CHECKS + 1))
        assert client.authz.check_batch([]) == []
        for bad in ([("user:u1", "read")], [{"principal": "user:u1"}], ["user:u1 read doc:a"],
                    [{"principal": "user:u1", "action": "read", "resource": "doc:a", "extra": 1}]):
            with pytest.raises(TypeError):
                client.authz.check_batch(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            client.authz.check_batch("user:u1")  # type: ignore[arg-type]
        with pytest.raises(tronch.TronchError, match="1 decisions for 2 checks"):
            client.authz.check_batch([("user:u1", "read", "doc:a")] * 2)
    assert len(calls) == 1


def test_checks_are_retried_after_a_connection_error_and_changes_are_not() -> None:
    calls: List[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        raise httpx.ConnectError("connection refused", request=request)

    with mock_client(handler, max_retries=1) as client:
        for call in (
            lambda: client.authz.check("user:u1", "read", "doc:a"),
            lambda: client.authz.check_batch([("user:u1", "read", "doc:a")]),
            lambda: client.groups.add_member("g1", "user:u1"),
            lambda: client.groups.create(name="ops"),
            lambda: client.acl_entries.create(resource="doc:a", principal="user:u1", action="read", effect="allow"),
            lambda: client.groups.update("g1", name="x"),
        ):
            with pytest.raises(tronch.APIConnectionError):
                call()
    assert calls == [
        "POST /api/v1/authz/check", "POST /api/v1/authz/check",
        "POST /api/v1/authz/check-batch", "POST /api/v1/authz/check-batch",
        "PUT /api/v1/groups/g1/members/user:u1", "PUT /api/v1/groups/g1/members/user:u1",
        "POST /api/v1/groups",
        "POST /api/v1/acl-entries",
        "PATCH /api/v1/groups/g1",
    ]


def test_errors_of_the_new_routes_map_like_the_others() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return json_response(400, {"code": "VALIDATION_FAILED", "detail": "1 field is invalid",
                                       "errors": [{"field": "principal", "message": "this would make a cycle"}]})
        if request.url.path.startswith("/api/v1/authz"):
            return json_response(403, {"code": "FORBIDDEN", "detail": "needs authz:check"})
        if request.method == "POST":
            return json_response(409, {"code": "CONFLICT", "detail": "the same entry exists"})
        return json_response(404, {"code": "NOT_FOUND", "detail": "no group with id g1"})

    with mock_client(handler) as client:
        with pytest.raises(tronch.ValidationError) as cycle:
            client.groups.add_member("g1", "group:g2")
        assert cycle.value.errors == [tronch.FieldError("principal", "this would make a cycle")]
        with pytest.raises(tronch.PermissionDeniedError):
            client.authz.check("user:u1", "read", "doc:a")
        with pytest.raises(tronch.ConflictError):
            client.acl_entries.create(resource="doc:a", principal="user:u1", action="read", effect="allow")
        with pytest.raises(tronch.NotFoundError):
            client.groups.get("g1")
        with pytest.raises(tronch.NotFoundError):
            client.groups.remove_member("g1", "user:u1")
