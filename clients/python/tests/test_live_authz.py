"""Groups, ACL entries and checks end to end against a live server: client.groups (CRUD, pagination,
members, nesting with its cycle and depth limits), client.acl_entries (create, list by resource with its
ancestors and by principal, get, delete), client.authz (check and check_batch, every rule of the evaluation
order with the entry and resource that decided), who may call them, and the exceptions their errors map to."""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
import uuid
from typing import Any, Callable, Dict, List, Set, Tuple

import pytest

import tronch
from tronch import (
    ACLEntry,
    AuthenticationError,
    ConflictError,
    Decision,
    DecisionRule,
    Group,
    GroupMember,
    NotFoundError,
    PermissionDeniedError,
    TronchError,
    ValidationError,
)

from conftest import Person

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")

MakePerson = Callable[..., Person]
MakeClient = Callable[..., tronch.Client]


def tag() -> str:
    """A suffix that keeps this test's group names and resources apart from every other test's."""
    return uuid.uuid4().hex[:10]


def new_group(client: tronch.Client, name: str, **kwargs: Any) -> Group:
    group = client.groups.create(name=name, **kwargs)
    time.sleep(0.002)  # ids are UUIDv7 (milliseconds, then random): a later group sorts after
    return group


def access_token_groups(token: str) -> Set[str]:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return set(claims["groups"])


# -- groups -----------------------------------------------------------------------------------------------


def test_groups_create_get_list_update_delete(client: tronch.Client) -> None:
    t = tag()
    ops = new_group(client, f"Ops {t}")
    assert isinstance(ops, Group)
    assert UUID.match(ops.id) and ops.principal == f"group:{ops.id}"
    assert (ops.name, ops.description, ops.mfa_required) == (f"Ops {t}", None, False)
    assert ops.created_at and ops.updated_at == ops.created_at
    dev = new_group(client, f"Developers {t}", description="builders", mfa_required=False)
    assert dev.description == "builders"

    assert client.groups.get(ops.id) == ops
    assert client.groups.get(ops.id.upper()).id == ops.id

    # q is a case-insensitive substring of the name; lists are newest first, across every page.
    assert [g.id for g in client.groups.list(q=f"velopers {t}".upper())] == [dev.id]
    assert [g.id for g in client.groups.list(q=t)] == [dev.id, ops.id]
    pages = list(client.groups.list(q=t, limit=1).pages())
    assert [[g.id for g in p.data] for p in pages] == [[dev.id], [ops.id]]
    assert pages[0].next_cursor and pages[-1].next_cursor is None
    assert [g.id for g in itertools.islice(client.groups.list(q=t, limit=1), 1)] == [dev.id]
    resumed = client.groups.list(q=t, limit=1, cursor=pages[0].next_cursor)
    assert [g.id for g in resumed] == [ops.id]

    # Only what is passed is sent; description=None clears it.
    updated = client.groups.update(dev.id, description="people who build", mfa_required=True)
    assert (updated.name, updated.description, updated.mfa_required) == (dev.name, "people who build", True)
    assert updated.updated_at is not None and dev.updated_at is not None and updated.updated_at >= dev.updated_at
    unchanged = client.groups.update(dev.id)
    assert (unchanged.description, unchanged.mfa_required) == ("people who build", True)
    cleared = client.groups.update(dev.id, description=None, mfa_required=False, name=f"Devs {t}")
    assert (cleared.name, cleared.description, cleared.mfa_required) == (f"Devs {t}", None, False)

    # Names are unique ignoring case.
    with pytest.raises(ConflictError) as taken:
        client.groups.create(name=f"OPS {t}")
    assert taken.value.status == 409 and taken.value.code == "CONFLICT"
    assert [e.field for e in taken.value.errors] == ["name"]
    with pytest.raises(ConflictError):
        client.groups.update(dev.id, name=f"ops {t}")
    with pytest.raises(ValidationError) as blank:
        client.groups.create(name="   ", description="x" * 1025)
    assert {e.field for e in blank.value.errors} == {"name", "description"}
    with pytest.raises(ValidationError) as unknown_field:
        client.groups.create(name=f"colourful {t}", extra_fields={"colour": "red"})
    assert unknown_field.value.code == "VALIDATION_FAILED"
    with pytest.raises(ValidationError):
        client.groups.update(dev.id, mfa_required=None)  # type: ignore[arg-type]

    client.groups.delete(dev.id)
    with pytest.raises(NotFoundError):
        client.groups.get(dev.id)
    with pytest.raises(NotFoundError):
        client.groups.delete(dev.id)
    with pytest.raises(NotFoundError):
        client.groups.update(dev.id, description="gone")
    assert [g.id for g in client.groups.list(q=t)] == [ops.id]
    with pytest.raises(ValidationError) as bad_id:
        client.groups.get("ops")
    assert [e.field for e in bad_id.value.errors] == ["id"]
    with pytest.raises(ValueError):
        client.groups.get("")
    client.groups.delete(ops.id)


def test_members_nesting_and_cycles(
    client: tronch.Client, make_person: MakePerson, make_client: MakeClient
) -> None:
    t = tag()
    engineers, web, interns = (new_group(client, f"{name} {t}") for name in ("engineers", "web", "interns"))
    person = make_person()

    # Users and groups join as strings or as the objects themselves; a second add changes nothing.
    assert client.groups.add_member(interns.id, person.user) is True
    assert client.groups.add_member(interns.id, f"user:{person.id}") is False
    assert client.groups.add_member(web.id, interns) is True
    assert client.groups.add_member(engineers.id, web.principal) is True

    members = list(client.groups.members(engineers.id))
    assert all(isinstance(m, GroupMember) for m in members)
    assert [(m.principal, m.type, m.id) for m in members] == [(f"group:{web.id}", "group", web.id)]  # direct only
    assert members[0].added_at is not None
    assert [m.principal for m in client.groups.members(interns.id)] == [f"user:{person.id}"]

    # Nesting shows in the person's access token: every group they are in, directly or not.
    pair = make_client().auth.login(username=person.username, password=person.password)
    assert access_token_groups(pair.access_token) == {engineers.id, web.id, interns.id}

    # A cycle, a group in itself, an unknown user or group and a key are refused, naming the principal.
    with pytest.raises(ValidationError) as cycle:
        client.groups.add_member(interns.id, engineers)
    assert cycle.value.status == 400 and cycle.value.code == "VALIDATION_FAILED"
    assert [e.field for e in cycle.value.errors] == ["principal"]
    assert "cycle" in cycle.value.errors[0].message
    with pytest.raises(ValidationError):
        client.groups.add_member(web.id, web)
    with pytest.raises(ValidationError):
        client.groups.add_member(web.id, f"user:{uuid.uuid4()}")
    with pytest.raises(ValidationError):
        client.groups.add_member(web.id, f"group:{uuid.uuid4()}")
    key = client.keys.create(name=f"not a member {t}")
    with pytest.raises(ValidationError):
        client.groups.add_member(web.id, key)
    with pytest.raises(ValidationError):
        client.groups.add_member(web.id, "somebody")
    with pytest.raises(NotFoundError):
        client.groups.add_member(str(uuid.uuid4()), person.user)
    with pytest.raises(TypeError):
        client.groups.add_member(web.id, 42)  # type: ignore[arg-type]

    # Members page by page.
    extra = [make_person() for _ in range(2)]
    for other in extra:
        assert client.groups.add_member(interns.id, other.user)
    pages = list(client.groups.members(interns.id, limit=2).pages())
    assert [len(p.data) for p in pages] == [2, 1]
    assert {m.id for p in pages for m in p.data} == {person.id} | {o.id for o in extra}

    client.groups.remove_member(interns.id, person.user)
    with pytest.raises(NotFoundError):
        client.groups.remove_member(interns.id, f"user:{person.id}")
    assert person.id not in {m.id for m in client.groups.members(interns.id)}

    # Deleting a group removes its memberships, as a member and as a group.
    client.groups.delete(web.id)
    assert list(client.groups.members(engineers.id)) == []
    for group in (engineers, interns):
        client.groups.delete(group.id)


def test_nesting_stops_at_sixteen_levels(client: tronch.Client) -> None:
    t = tag()
    chain = [client.groups.create(name=f"level {i} {t}") for i in range(17)]
    for outer, inner in zip(chain[:15], chain[1:16]):
        assert client.groups.add_member(outer.id, inner)  # a chain of 16 groups
    with pytest.raises(ValidationError) as deep:
        client.groups.add_member(chain[15].id, chain[16])  # the 17th level
    assert [e.field for e in deep.value.errors] == ["principal"]
    for group in chain:
        client.groups.delete(group.id)


# -- ACL entries and checks -------------------------------------------------------------------------------


def test_entries_decide_in_design_order(client: tronch.Client, make_person: MakePerson) -> None:
    """project:T                 DACL allow read    engineers
    project:T/web             ACL  allow deploy  web
    project:T/api             DACL deny  deploy  engineers
    project:T/api/sandbox     DACL allow deploy  engineers
    project:T/api/secrets     ACL  deny  read    web (and an ACL allow read for mia, which the deny beats)"""
    t = tag()
    root = f"project:t{t}"
    mia, noah = make_person(), make_person()
    engineers, web = new_group(client, f"engineers {t}"), new_group(client, f"web {t}")
    client.groups.add_member(engineers.id, web)
    client.groups.add_member(web.id, mia.user)
    client.groups.add_member(engineers.id, noah.user)

    read_all = client.acl_entries.create(resource=root, principal=engineers, action="read", effect="allow",
                                         kind="dacl")
    assert isinstance(read_all, ACLEntry) and UUID.match(read_all.id)
    assert (read_all.resource, read_all.principal, read_all.action, read_all.effect, read_all.kind) == (
        root, f"group:{engineers.id}", "read", "allow", "dacl")
    assert read_all.created_at is not None and read_all.created_by
    deploy_web = client.acl_entries.create(resource=f"{root}/web", principal=web.principal, action="deploy",
                                           effect="allow")
    assert deploy_web.kind == "acl"  # the server's default
    no_api_deploys = client.acl_entries.create(resource=f"{root}/api", principal=engineers, action="deploy",
                                               effect="deny", kind="dacl")
    sandbox = client.acl_entries.create(resource=f"{root}/api/sandbox", principal=engineers, action="deploy",
                                        effect="allow", kind="dacl")
    no_secrets = client.acl_entries.create(resource=f"{root}/api/secrets", principal=web, action="read",
                                           effect="deny", kind="acl")
    mia_secrets = client.acl_entries.create(resource=f"{root}/api/secrets", principal=mia.user, action="*",
                                            effect="allow")
    assert client.acl_entries.get(no_secrets.id) == no_secrets

    expected: List[Tuple[Person, str, str, bool, str, object]] = [
        (mia, "deploy", f"{root}/web", True, DecisionRule.ACL_ALLOW, deploy_web),
        (mia, "read", f"{root}/web/assets", True, DecisionRule.DACL_ALLOW, read_all),
        (mia, "read", f"{root}/api/secrets", False, DecisionRule.ACL_DENY, no_secrets),  # deny beats allow
        (mia, "write", f"{root}/api/secrets", True, DecisionRule.ACL_ALLOW, mia_secrets),  # "*"
        (noah, "read", f"{root}/api/secrets", True, DecisionRule.DACL_ALLOW, read_all),
        (noah, "deploy", f"{root}/api/gateway", False, DecisionRule.DACL_DENY, no_api_deploys),
        (noah, "deploy", f"{root}/api/sandbox/demo", True, DecisionRule.DACL_ALLOW, sandbox),  # the nearest
        (noah, "deploy", f"{root}/web", False, DecisionRule.FALLBACK, None),
        (mia, "read", root, False, DecisionRule.FALLBACK, None),  # a DACL is for descendants only
    ]
    for person, action, resource, allowed, rule, entry in expected:
        decision = client.authz.check(person.user, action, resource)
        assert isinstance(decision, Decision)
        assert (decision.allowed, decision.rule) == (allowed, rule), (person.username, action, resource)
        assert bool(decision) is allowed
        if isinstance(entry, ACLEntry):
            assert (decision.entry_id, decision.resource) == (entry.id, entry.resource)
        else:
            assert decision.entry_id is None and decision.resource is None
        assert decision.raw["reason"]["rule"] == rule
    # A group is a principal too: asked about as itself.
    assert client.authz.check(web, "deploy", f"{root}/web").rule == DecisionRule.ACL_ALLOW
    assert client.authz.check(f"user:{uuid.uuid4()}", "read", f"{root}/web").rule == DecisionRule.FALLBACK

    # A key Mia owns acts with her rights, narrowed by its scopes (<type>:<action>).
    key = client.keys.create(name=f"mia's laptop {t}", owner_id=f"user:{mia.id}", scopes=["project:read"])
    assert client.authz.check(key, "read", f"{root}/web/assets").rule == DecisionRule.DACL_ALLOW
    scoped = client.authz.check(f"key:{key.id}", "deploy", f"{root}/web")
    assert (scoped.allowed, scoped.rule) == (False, DecisionRule.KEY_SCOPE)
    assert scoped.entry_id is None and scoped.resource is None

    # The same entry twice is a conflict; an allow and a deny for the same triple are two entries.
    with pytest.raises(ConflictError):
        client.acl_entries.create(resource=root, principal=engineers, action="read", effect="allow", kind="dacl")
    opposite = client.acl_entries.create(resource=root, principal=engineers, action="read", effect="deny",
                                         kind="dacl")

    # Listing: on a resource, with its ancestors, and by principal (itself, not through its groups).
    assert [e.id for e in client.acl_entries.list(resource=f"{root}/api/secrets")] in (
        [no_secrets.id, mia_secrets.id], [mia_secrets.id, no_secrets.id])
    upwards = {e.id for e in client.acl_entries.list(resource=f"{root}/api/secrets/keys", include_ancestors=True)}
    assert upwards == {read_all.id, opposite.id, no_api_deploys.id, no_secrets.id, mia_secrets.id}
    assert list(client.acl_entries.list(resource=f"{root}/api/secrets/keys", include_ancestors=False)) == []
    assert {e.id for e in client.acl_entries.list(principal=mia.user)} == {mia_secrets.id}
    assert {e.id for e in client.acl_entries.list(principal=f"group:{web.id}")} == {deploy_web.id, no_secrets.id}
    assert [e.id for e in client.acl_entries.list(principal=web, resource=f"{root}/web")] == [deploy_web.id]
    pages = list(client.acl_entries.list(principal=engineers, limit=2).pages())
    assert [len(p.data) for p in pages] == [2, 2] and pages[-1].next_cursor is None
    assert {e.id for p in pages for e in p.data} == {read_all.id, opposite.id, no_api_deploys.id, sandbox.id}

    # A change is seen by the very next check.
    client.acl_entries.delete(opposite.id)
    client.acl_entries.delete(read_all.id)
    assert client.authz.check(noah.user, "read", f"{root}/api/secrets").rule == DecisionRule.FALLBACK
    with pytest.raises(NotFoundError):
        client.acl_entries.get(read_all.id)
    with pytest.raises(NotFoundError):
        client.acl_entries.delete(read_all.id)
    client.groups.remove_member(web.id, mia.user)
    assert client.authz.check(mia.user, "deploy", f"{root}/web").rule == DecisionRule.FALLBACK
    # Deleting a group takes the entries that name it.
    client.groups.delete(web.id)
    assert list(client.acl_entries.list(resource=f"{root}/web")) == []
    client.groups.delete(engineers.id)


def test_check_batch(client: tronch.Client, make_person: MakePerson) -> None:
    t = tag()
    resource = f"doc:t{t}"
    alice, bob = make_person(), make_person()
    entry = client.acl_entries.create(resource=resource, principal=alice.user, action="read", effect="allow")

    decisions = client.authz.check_batch([
        (alice.user, "read", resource),                                       # a tuple, with a User
        {"principal": f"user:{bob.id}", "action": "read", "resource": resource},  # a mapping
        [f"user:{alice.id}", "write", resource],                              # any 3-item sequence
    ])
    assert all(isinstance(d, Decision) for d in decisions)
    assert [(d.allowed, d.rule, d.entry_id) for d in decisions] == [
        (True, DecisionRule.ACL_ALLOW, entry.id),
        (False, DecisionRule.FALLBACK, None),
        (False, DecisionRule.FALLBACK, None),
    ]
    assert [bool(d) for d in decisions] == [True, False, False]

    # Up to 100 at once, answered in order.
    hundred = [(alice.user if i % 2 == 0 else bob.user, "read", resource) for i in range(100)]
    assert [d.allowed for d in client.authz.check_batch(hundred)] == [i % 2 == 0 for i in range(100)]
    with pytest.raises(ValueError, match="at most 100"):
        client.authz.check_batch(hundred + hundred[:1])
    assert client.authz.check_batch([]) == []

    # One malformed check refuses the batch, naming it.
    with pytest.raises(ValidationError) as malformed:
        client.authz.check_batch([(alice.user, "read", resource), (alice.user, "read", "Not A Resource")])
    assert [e.field for e in malformed.value.errors] == ["checks[1].resource"]
    with pytest.raises(ValidationError) as wildcard:
        client.authz.check_batch([(alice.user, "*", resource)])
    assert [e.field for e in wildcard.value.errors] == ["checks[0].action"]
    with pytest.raises(TypeError):
        client.authz.check_batch([(alice.user, "read")])
    with pytest.raises(TypeError):
        client.authz.check_batch([{"principal": alice.user, "action": "read"}])
    with pytest.raises(TypeError):
        client.authz.check_batch({"principal": alice.user, "action": "read", "resource": resource})  # type: ignore[arg-type]
    client.acl_entries.delete(entry.id)


# -- who may call them ------------------------------------------------------------------------------------


def test_checks_need_authz_check_and_management_authz_manage(
    client: tronch.Client, make_client: MakeClient, make_person: MakePerson
) -> None:
    t = tag()
    person = make_person()
    group = new_group(client, f"managed {t}")
    entry = client.acl_entries.create(resource=f"doc:t{t}", principal=person.user, action="read", effect="allow")

    # A resource server's key asks questions (authz:check) and changes nothing.
    checker = make_client(api_key=client.keys.create(name=f"checker {t}", scopes=["authz:check"]).key)
    assert checker.authz.check(person.user, "read", f"doc:t{t}").allowed
    assert [d.allowed for d in checker.authz.check_batch([(person.user, "read", f"doc:t{t}")])] == [True]
    for call in (
        lambda: list(checker.groups.list()),
        lambda: checker.groups.get(group.id),
        lambda: checker.groups.create(name=f"not allowed {t}"),
        lambda: checker.groups.add_member(group.id, person.user),
        lambda: list(checker.groups.members(group.id)),
        lambda: checker.acl_entries.create(resource=f"doc:t{t}", principal=person.user, action="write",
                                           effect="allow"),
        lambda: list(checker.acl_entries.list(principal=person.user)),
        lambda: checker.acl_entries.delete(entry.id),
    ):
        with pytest.raises(PermissionDeniedError) as refused:
            call()
        assert refused.value.status == 403 and refused.value.code == "FORBIDDEN"

    # A key without authz:check may not ask.
    other = make_client(api_key=client.keys.create(name=f"no authz {t}", scopes=["keys:read"]).key)
    with pytest.raises(PermissionDeniedError) as denied:
        other.authz.check(person.user, "read", f"doc:t{t}")
    assert denied.value.status == 403 and denied.value.code == "FORBIDDEN"
    with pytest.raises(PermissionDeniedError):
        other.authz.check_batch([(person.user, "read", f"doc:t{t}")])

    # Neither may a member's access token, nor manage groups.
    member = make_client()
    member.login(person.username, password=person.password)
    with pytest.raises(PermissionDeniedError):
        member.authz.check(person.user, "read", f"doc:t{t}")
    with pytest.raises(PermissionDeniedError):
        list(member.groups.list())

    # A key with authz:manage manages them without being an administrator.
    manager = make_client(api_key=client.keys.create(name=f"manager {t}", scopes=["authz:manage"]).key)
    assert manager.groups.add_member(group.id, person.user) is True
    assert manager.acl_entries.get(entry.id).id == entry.id
    with pytest.raises(PermissionDeniedError):
        manager.authz.check(person.user, "read", f"doc:t{t}")
    client.acl_entries.delete(entry.id)
    client.groups.delete(group.id)


# -- errors -----------------------------------------------------------------------------------------------


def test_errors_map_to_sdk_exceptions(client: tronch.Client, make_client: MakeClient, make_person: MakePerson) -> None:
    t = tag()
    person = make_person()
    group = new_group(client, f"errors {t}")
    missing = str(uuid.uuid4())

    not_found: List[Callable[[], object]] = [
        lambda: client.groups.get(missing),
        lambda: client.groups.update(missing, name=f"nobody {t}"),
        lambda: client.groups.delete(missing),
        lambda: client.groups.add_member(missing, person.user),
        lambda: client.groups.remove_member(group.id, person.user),  # not a member
        lambda: client.acl_entries.get(missing),
        lambda: client.acl_entries.delete(missing),
    ]
    for call in not_found:
        with pytest.raises(NotFoundError) as info:
            call()
        assert info.value.status == 404 and info.value.code == "NOT_FOUND" and info.value.request_id

    invalid: Dict[str, Callable[[], object]] = {
        "id": lambda: client.acl_entries.get("entry-1"),
        "resource": lambda: client.acl_entries.create(resource="Project:Acme", principal=person.user,
                                                      action="read", effect="allow"),
        "effect": lambda: client.acl_entries.create(resource=f"doc:t{t}", principal=person.user, action="read",
                                                    effect="maybe"),
        "kind": lambda: client.acl_entries.create(resource=f"doc:t{t}", principal=person.user, action="read",
                                                  effect="allow", kind="sometimes"),
        "action": lambda: client.authz.check(person.user, "*", f"doc:t{t}"),  # a check names one action
        "principal": lambda: client.authz.check(f"group:{missing}", "read", f"doc:t{t}"),
        "include_ancestors": lambda: list(client.acl_entries.list(include_ancestors=True)),
        "cursor": lambda: list(client.groups.list(cursor="not-a-cursor")),
        "limit": lambda: list(client.groups.list(limit=0)),
    }
    for field, call in invalid.items():
        with pytest.raises(ValidationError) as refused:
            call()
        assert refused.value.status == 400 and refused.value.code == "VALIDATION_FAILED", field
        assert field in {e.field for e in refused.value.errors}, (field, refused.value.errors)
    with pytest.raises(ValidationError) as nobody:
        client.acl_entries.create(resource=f"doc:t{t}", principal=f"user:{missing}", action="read", effect="allow")
    assert [e.field for e in nobody.value.errors] == ["principal"]

    entry = client.acl_entries.create(resource=f"doc:t{t}", principal=group, action="read", effect="allow")
    with pytest.raises(ConflictError) as duplicate:
        client.acl_entries.create(resource=f"doc:t{t}", principal=group.principal, action="read", effect="allow",
                                  kind="acl")
    assert duplicate.value.status == 409 and duplicate.value.code == "CONFLICT"

    stranger = make_client(api_key="tronch_sk_live_" + "Q" * 38)
    with pytest.raises(AuthenticationError) as unauthenticated:
        stranger.authz.check(person.user, "read", f"doc:t{t}")
    assert unauthenticated.value.code == "UNAUTHENTICATED"

    for error in (duplicate.value, unauthenticated.value):
        assert isinstance(error, TronchError)
    with pytest.raises(ValueError):
        client.authz.check("", "read", f"doc:t{t}")
    with pytest.raises(TypeError):
        client.acl_entries.create(resource=f"doc:t{t}", principal=None, action="read", effect="allow")  # type: ignore[arg-type]
    client.acl_entries.delete(entry.id)
    client.groups.delete(group.id)
