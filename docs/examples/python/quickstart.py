"""Quickstart: create a key for a customer, verify it, list the customer's keys, rotate it, revoke it.

    pip install ./clients/python
    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... python docs/examples/python/quickstart.py

TRONCH_API_KEY needs keys:read, keys:write and keys:verify (the root key printed by `tronch serve` has all).
Exits with 0 when every step worked, 1 otherwise.
"""

import os
import sys
import uuid

import tronch


def main() -> int:
    url = os.environ.get("TRONCH_URL", "http://127.0.0.1:8080")
    api_key = os.environ.get("TRONCH_API_KEY")
    if not api_key:
        print("set TRONCH_API_KEY to a Tronch key (for example the root key)", file=sys.stderr)
        return 2
    owner = f"cus_{uuid.uuid4().hex[:8]}"  # your customer's id

    with tronch.Client(url, api_key=api_key) as client:
        # 1. Create a key. Its secret is in created.key, in this answer only: hand it to the customer.
        created = client.keys.create(
            name="Acme production",
            owner_id=owner,
            scopes=["orders:read", "orders:write"],
            meta={"plan": "pro"},
        )
        print(f"created {created.id} {created.hint}")

        # 2. Verify it, as your API does on each request.
        verdict = client.keys.verify(created.key, scopes=["orders:read"])
        print(f"verify: {verdict.code} owner={verdict.owner_id} plan={verdict.meta and verdict.meta.get('plan')}")
        if not verdict.valid:
            return 1

        # 3. List the customer's keys (every page is fetched as you iterate).
        for key in client.keys.list(owner_id=owner):
            print(f"listed {key.id} {key.name!r} {key.status} scopes={','.join(key.scopes)}")

        # 4. Rotate: a new secret with the same settings; the old one keeps working for an hour.
        rotated = client.keys.rotate(created.id, grace_period_seconds=3600)
        print(f"rotated {created.id} -> {rotated.id} (old key works until {client.keys.get(created.id).grace_until})")

        # 5. Revoke both: verification answers REVOKED from now on.
        client.keys.revoke(created.id)  # ends the grace period early
        revoked = client.keys.revoke(rotated.id)
        print(f"revoked {revoked.id} at {revoked.revoked_at}")
        after = client.keys.verify(rotated.key)
        print(f"verify after revoke: {after.code}")
        if after.code != tronch.VerificationCode.REVOKED:
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tronch.TronchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
