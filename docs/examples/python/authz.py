"""Permissions: groups nested in groups, ACL and DACL entries on a small tree (the tenant acme and its projects
web and api), and a resource server asking Tronch whether a person or a key may act, with the rule and the
entry that decided. Every rule of the evaluation order appears: acl_allow, acl_deny, dacl_allow, dacl_deny,
fallback and key_scope.

    pip install ./clients/python
    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... python docs/examples/python/authz.py

TRONCH_API_KEY must be allowed to manage users, keys and permissions (authz:manage; the root key printed by
`tronch serve` is). The demo removes what it made. Exits with 0 when every step worked, 1 otherwise.
"""

import os
import sys
import uuid
from typing import Optional

import tronch
from tronch import DecisionRule


def main() -> int:
    url = os.environ.get("TRONCH_URL", "http://127.0.0.1:8080")
    api_key = os.environ.get("TRONCH_API_KEY")
    if not api_key:
        print("set TRONCH_API_KEY to a Tronch key that may manage permissions (for example the root key)",
              file=sys.stderr)
        return 2
    run = uuid.uuid4().hex[:8]  # group names are unique: a suffix lets the demo run twice against one server
    failures = 0

    with tronch.Client(url, api_key=api_key) as admin:
        # 1. Two people: Mia builds the website, Noah the API.
        mia = admin.users.create(username=f"mia_{run}", email=f"mia_{run}@example.com", display_name="Mia Moreau")
        noah = admin.users.create(username=f"noah_{run}", email=f"noah_{run}@example.com", display_name="Noah Berg")
        groups = []
        checker_key: Optional[tronch.CreatedKey] = None
        try:
            # 2. Two groups, one inside the other: every member of "acme web" is also one of "acme engineers".
            engineers = admin.groups.create(name=f"acme engineers {run}",
                                            description="Everyone who builds Acme's products")
            web = admin.groups.create(name=f"acme web {run}")
            groups = [web, engineers]
            admin.groups.add_member(engineers.id, web)           # a Group, a User, or "user:<id>" / "group:<id>"
            admin.groups.add_member(web.id, mia)
            admin.groups.add_member(engineers.id, noah.principal)
            again = admin.groups.add_member(engineers.id, noah)  # False: a member already, nothing changes
            print(f"groups: {engineers.name} > {web.name}; Noah added again: {again}")
            print(f"members of {engineers.name}: {[m.principal for m in admin.groups.members(engineers.id)]}")
            try:
                admin.groups.add_member(web.id, engineers)
                print("a cycle was accepted: unexpected")
                return 1
            except tronch.ValidationError as error:
                print(f"a cycle is refused ({error.code}): {error.errors[0].message}")

            # 3. The entries. DACLs are defaults for everything below their resource; ACLs apply to their resource.
            #    project:acme                 DACL allow read    acme engineers
            #    project:acme/web             ACL  allow deploy  acme web
            #    project:acme/api             DACL deny  deploy  acme engineers
            #    project:acme/api/sandbox     DACL allow deploy  acme engineers
            #    project:acme/api/secrets     ACL  deny  read    acme web
            read_all = admin.acl_entries.create(resource="project:acme", principal=engineers, action="read",
                                                effect="allow", kind="dacl")
            admin.acl_entries.create(resource="project:acme/web", principal=web, action="deploy", effect="allow")
            admin.acl_entries.create(resource="project:acme/api", principal=engineers, action="deploy",
                                     effect="deny", kind="dacl")
            admin.acl_entries.create(resource="project:acme/api/sandbox", principal=engineers, action="deploy",
                                     effect="allow", kind="dacl")
            no_secrets = admin.acl_entries.create(resource="project:acme/api/secrets", principal=web, action="read",
                                                  effect="deny")
            try:
                admin.acl_entries.create(resource="project:acme", principal=engineers, action="read",
                                         effect="allow", kind="dacl")
                print("the same entry twice was accepted: unexpected")
                return 1
            except tronch.ConflictError as error:
                print(f"the same entry twice is refused ({error.code})")

            # 4. The entries that bear on one resource: its own and its ancestors' (the DACLs among them apply).
            ours = {engineers.principal, web.principal}
            bearing = [e for e in admin.acl_entries.list(resource="project:acme/api/secrets", include_ancestors=True)
                       if e.principal in ours]
            for entry in bearing:
                print(f"entry on {entry.resource}: {entry.kind} {entry.effect} {entry.action}")

            # 5. The resource server's key: it may ask questions (authz:check), not change the answers.
            checker_key = admin.keys.create(name=f"acme backend {run}", scopes=["authz:check"])
            with tronch.Client(url, api_key=checker_key.key) as backend:
                try:
                    list(backend.groups.list())
                    print("the checker could list groups: unexpected")
                    return 1
                except tronch.PermissionDeniedError as error:
                    print(f"the checker may not list groups ({error.code})")

                # 6. Questions, and the rule that answered each one.
                def expect(what: str, principal: tronch.PrincipalInput, action: str, resource: str,
                           allowed: bool, rule: str) -> tronch.Decision:
                    nonlocal failures
                    decision = backend.authz.check(principal, action, resource)
                    ok = decision.allowed == allowed and decision.rule == rule
                    failures += 0 if ok else 1
                    print(f"{'ok' if ok else 'BAD'}: {what}: allowed={decision.allowed} rule={decision.rule} "
                          f"resource={decision.resource or '-'}")
                    return decision

                expect("Mia deploys web", mia, "deploy", "project:acme/web", True, DecisionRule.ACL_ALLOW)
                expect("Mia reads web's assets", mia, "read", "project:acme/web/assets", True, DecisionRule.DACL_ALLOW)
                denied = expect("Mia reads the API's secrets", mia, "read", "project:acme/api/secrets", False,
                                DecisionRule.ACL_DENY)
                if denied.entry_id != no_secrets.id:  # the answer names the entry that decided
                    failures += 1
                expect("Noah reads the API's secrets", noah, "read", "project:acme/api/secrets", True,
                       DecisionRule.DACL_ALLOW)
                expect("Noah deploys the API's gateway", noah, "deploy", "project:acme/api/gateway", False,
                       DecisionRule.DACL_DENY)
                expect("Noah deploys a sandbox demo", noah, "deploy", "project:acme/api/sandbox/demo", True,
                       DecisionRule.DACL_ALLOW)
                expect("Noah deploys web", noah, "deploy", "project:acme/web", False, DecisionRule.FALLBACK)
                expect("Mia reads the tenant itself", mia, "read", "project:acme", False, DecisionRule.FALLBACK)

                # 7. A key Mia owns acts with her rights, narrowed by its scopes (<type>:<action>).
                laptop = admin.keys.create(name=f"mia laptop {run}", owner_id=mia.principal, scopes=["project:read"])
                expect("Mia's key reads web's assets", laptop, "read", "project:acme/web/assets", True,
                       DecisionRule.DACL_ALLOW)
                expect("Mia's key deploys web", laptop, "deploy", "project:acme/web", False, DecisionRule.KEY_SCOPE)

                # 8. Up to 100 questions at once, answered in order.
                batch = backend.authz.check_batch([
                    (mia, "deploy", "project:acme/web"),
                    (noah, "deploy", "project:acme/web"),
                    {"principal": noah.principal, "action": "deploy", "resource": "project:acme/api/sandbox/demo"},
                ])
                print(f"a batch: {', '.join(f'{d.allowed} {d.rule}' for d in batch)}")
                if [d.allowed for d in batch] != [True, False, True]:
                    failures += 1

                # 9. A change is seen by the very next check: Mia leaves the web team, and with it its rights.
                admin.groups.remove_member(web.id, mia)
                expect("Mia deploys web, having left", mia, "deploy", "project:acme/web", False, DecisionRule.FALLBACK)
                admin.acl_entries.delete(read_all.id)
                expect("Noah reads the API's secrets, without the default", noah, "read", "project:acme/api/secrets",
                       False, DecisionRule.FALLBACK)
        finally:
            # 10. Deleting a group removes its memberships and the entries that name it; deleting a user
            #     revokes their keys.
            for group in groups:
                admin.groups.delete(group.id)
            for user in (mia, noah):
                admin.users.delete(user.id)
            if checker_key is not None:
                admin.keys.revoke(checker_key.id)
            print("removed the groups, their entries, the users and the keys")
    if failures:
        print(f"{failures} checks did not answer as expected", file=sys.stderr)
        return 1
    print("authz done")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tronch.TronchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
