"""Export the audit log as JSON Lines (one entry per line, newest first), e.g. for a SIEM or an archive.

    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... \
        python docs/examples/python/audit_export.py --since-hours 24 > audit.jsonl

TRONCH_API_KEY needs the audit:read scope (admin, as the root key has, includes it). Optional filters:
--action key.revoked, --outcome failure, --target-id <key id>. Every page is fetched as the entries are
written. Exits with 0 on success, 1 on an error.
"""

import argparse
import json
import os
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import tronch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since-hours", type=float, default=24.0, help="how far back to go (default 24)")
    parser.add_argument("--action", help="only this action, e.g. key.revoked or auth.failed")
    parser.add_argument("--outcome", choices=["success", "failure"])
    parser.add_argument("--target-id", help="only entries about this key id")
    args = parser.parse_args()

    url = os.environ.get("TRONCH_URL", "http://127.0.0.1:8080")
    api_key = os.environ.get("TRONCH_API_KEY")
    if not api_key:
        print("set TRONCH_API_KEY to a key with audit:read", file=sys.stderr)
        return 2

    since = datetime.now(timezone.utc) - timedelta(hours=args.since_hours)
    actions: "Counter[str]" = Counter()
    with tronch.Client(url, api_key=api_key) as client:
        entries = client.audit_logs.list(
            since=since, action=args.action, outcome=args.outcome, target_id=args.target_id, limit=100
        )
        for entry in entries:
            # entry.raw is the entry exactly as Tronch sent it (its hash covers that content).
            sys.stdout.write(json.dumps(entry.raw, sort_keys=True) + "\n")
            actions[entry.action] += 1
    summary = ", ".join(f"{action}: {count}" for action, count in actions.most_common()) or "none"
    print(f"exported {sum(actions.values())} entries since {since.isoformat()} ({summary})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tronch.TronchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
