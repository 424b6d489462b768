"""Verify your customers' keys in your own API: the function a request handler (or middleware) calls.

    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... python docs/examples/python/verify_in_your_api.py

`authenticate()` turns a request's headers and address into the HTTP status your API should answer. In
production, the client it uses holds a key with only the `keys:verify` scope. The demo below creates such a
key and a customer key with TRONCH_API_KEY (which needs keys:write, e.g. the root key), checks a few
requests, and exits with 0 when every answer is the expected one.
"""

import os
import sys
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import tronch

# What your API answers for each verification code. Unknown (future) codes are refused with 401.
STATUS_BY_CODE = {
    "VALID": 200,
    "NOT_FOUND": 401,
    "REVOKED": 401,
    "DISABLED": 401,
    "EXPIRED": 401,
    "FORBIDDEN": 403,  # the client's address is not in the key's allowed_ips
    # A key that signs its requests, sent without a good signature (this check passes no `request`:
    # signed_requests.py shows one that does).
    "SIGNATURE_INVALID": 401,
    "SIGNATURE_EXPIRED": 401,
    "SIGNATURE_REPLAYED": 401,
    "INSUFFICIENT_SCOPES": 403,
    "RATE_LIMITED": 429,
    "USAGE_EXCEEDED": 429,
}


@dataclass
class Decision:
    status: int  # the HTTP status your API answers with (200: go on and serve the request)
    reason: str
    owner_id: Optional[str] = None  # whose key it is, when it is valid


def make_verifier(url: str, verifier_key: str) -> tronch.Client:
    """One client for the whole process (it keeps connections open). Short timeouts and few retries: a
    verification sits on your request's critical path."""
    return tronch.Client(url, api_key=verifier_key, timeout=2.0, max_retries=1, max_retry_wait=1.0)


def authenticate(
    verifier: tronch.Client,
    headers: Mapping[str, str],
    client_ip: str,
    required_scopes: Sequence[str],
) -> Decision:
    """Decides whether a request to your API may go on. Call it once per request."""
    lowered = {k.lower(): v for k, v in headers.items()}
    key = lowered.get("x-api-key")
    if not key and lowered.get("authorization", "").lower().startswith("bearer "):
        key = lowered["authorization"][7:].strip()
    if not key:
        return Decision(401, "missing API key")
    try:
        verdict = verifier.keys.verify(key, scopes=required_scopes, ip=client_ip)
    except (tronch.APIConnectionError, tronch.ServiceUnavailableError, tronch.RateLimitError):
        # Tronch could not answer: fail closed, and let the client retry.
        return Decision(503, "key service unavailable")
    # Any other TronchError (e.g. 403: the verifier key lacks keys:verify) is a configuration bug: let it
    # raise and become a 500 in your API.
    if verdict.valid:
        return Decision(200, verdict.code, owner_id=verdict.owner_id)
    return Decision(STATUS_BY_CODE.get(verdict.code, 401), verdict.code)


def main() -> int:
    url = os.environ.get("TRONCH_URL", "http://127.0.0.1:8080")
    admin_key = os.environ.get("TRONCH_API_KEY")
    if not admin_key:
        print("set TRONCH_API_KEY to a key with keys:write (for example the root key)", file=sys.stderr)
        return 2

    with tronch.Client(url, api_key=admin_key) as admin:
        backend = admin.keys.create(name="orders-api backend (demo)", scopes=["keys:verify"])
        customer = admin.keys.create(name="Acme (demo)", owner_id="cus_demo", scopes=["orders:read"],
                                     allowed_ips=["203.0.113.0/24"])
        cases = [
            ("valid key", {"X-API-Key": customer.key}, "203.0.113.7", ["orders:read"], 200),
            ("bearer header", {"Authorization": f"Bearer {customer.key}"}, "203.0.113.7", ["orders:read"], 200),
            ("missing scope", {"X-API-Key": customer.key}, "203.0.113.7", ["orders:write"], 403),
            ("wrong address", {"X-API-Key": customer.key}, "198.51.100.1", ["orders:read"], 403),
            ("unknown key", {"X-API-Key": "tronch_sk_live_nope"}, "203.0.113.7", [], 401),
            ("no key", {}, "203.0.113.7", [], 401),
        ]
        failures = 0
        with make_verifier(url, backend.key) as verifier:
            for label, headers, ip, scopes, expected in cases:
                decision = authenticate(verifier, headers, ip, scopes)
                ok = decision.status == expected
                failures += not ok
                print(f"{'ok ' if ok else 'BAD'} {label}: {decision.status} {decision.reason}"
                      + (f" owner={decision.owner_id}" if decision.owner_id else ""))
            admin.keys.revoke(customer.id)
            decision = authenticate(verifier, {"X-API-Key": customer.key}, "203.0.113.7", ["orders:read"])
            print(f"{'ok ' if decision.status == 401 else 'BAD'} revoked key: {decision.status} {decision.reason}")
            failures += decision.status != 401
        admin.keys.revoke(backend.id)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tronch.TronchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
