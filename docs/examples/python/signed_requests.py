"""Signed requests with the Python SDK: a key that signs its requests, a client that signs with
`tronch.SigningAuth` (httpx), and a small API that checks the key and the signature with
`keys.verify(..., request=tronch.signed_request_from(...))`. Then a replayed request and a tampered body,
both refused.

    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... python docs/examples/python/signed_requests.py

TRONCH_API_KEY needs keys:write (e.g. the root key): it creates the backend key (keys:verify only) and the
customer's key. Exits with 0 when every answer is the expected one.
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

import tronch


# -- Your API's side: one verification per request, with the request as received. ------------------------


def check_request(verifier: tronch.Client, method: str, url: str, headers, body: bytes) -> tronch.Verification:
    """The key and the signature of one request your API received. `url` is the received URL (absolute, or
    just its path and query), `headers` its header fields, `body` the raw bytes it read."""
    lowered = {name.lower(): value for name, value in headers}
    key = lowered.get("x-api-key") or lowered.get("authorization", "").removeprefix("Bearer ").strip()
    # signed_request_from keeps only the fields the signature needs and hashes the body: Tronch then also
    # checks that the signed Content-Digest is this body's.
    request = tronch.signed_request_from(method, url, headers, body)
    return verifier.keys.verify(key, scopes=["orders:write"], request=request)


def orders_api(verifier: tronch.Client) -> ThreadingHTTPServer:
    """A tiny API on http.server (with Flask: check_request(verifier, request.method, request.url,
    request.headers.items(), request.get_data()))."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                verdict = check_request(verifier, self.command, self.path, self.headers.items(), body)
            except (tronch.APIConnectionError, tronch.ServiceUnavailableError):
                status, answer = 503, {"error": "auth_unavailable"}  # fail closed
            else:
                status = 201 if verdict.valid else 403 if verdict.code == "INSUFFICIENT_SCOPES" else 401
                answer = {"code": verdict.code, "owner": verdict.owner_id}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- The demonstration. -----------------------------------------------------------------------------------


def main() -> int:
    url = os.environ.get("TRONCH_URL", "http://127.0.0.1:8080")
    admin_key = os.environ.get("TRONCH_API_KEY")
    if not admin_key:
        print("set TRONCH_API_KEY to a key with keys:write (for example the root key)", file=sys.stderr)
        return 2

    failures = 0

    def expect(label: str, status: int, code: str, wanted_status: int, wanted_code: str) -> None:
        nonlocal failures
        ok = (status, code) == (wanted_status, wanted_code)
        failures += not ok
        print(f"{'ok ' if ok else 'BAD'} {label}: {status} {code}")

    with tronch.Client(url, api_key=admin_key) as admin:
        backend = admin.keys.create(name="orders-api backend (demo)", scopes=["keys:verify"])
        # signing=True: the answer's signing_secret is shown this once, like the key.
        customer = admin.keys.create(name="Acme signer (demo)", owner_id="cus_demo", scopes=["orders:write"],
                                     signing=True)
        print(f"created {customer.hint}: signing={customer.signing}")
        with tronch.Client(url, api_key=backend.key, timeout=2.0, max_retries=1) as verifier:
            server = orders_api(verifier)
            api = f"http://127.0.0.1:{server.server_address[1]}"
            try:
                # The customer's side: SigningAuth sends the key and signs every request.
                auth = tronch.SigningAuth(customer.key, customer.signing_secret, key_id=customer.id)
                with httpx.Client(base_url=api, auth=auth) as client:
                    answer = client.post("/orders?expand=items", json={"sku": "A-1", "quantity": 2})
                    expect("signed request", answer.status_code, answer.json()["code"], 201, "VALID")

                # The same request captured and sent again, byte for byte.
                body = b'{"sku": "A-1", "quantity": 2}'
                signature = tronch.sign_request("POST", "/orders", body, secret=customer.signing_secret)
                headers = {"Authorization": f"Bearer {customer.key}", **signature}
                first = httpx.post(f"{api}/orders", content=body, headers=headers)
                replayed = httpx.post(f"{api}/orders", content=body, headers=headers)
                expect("first sending", first.status_code, first.json()["code"], 201, "VALID")
                expect("replayed", replayed.status_code, replayed.json()["code"], 401, "SIGNATURE_REPLAYED")

                # A fresh signature, but the body changed on the way.
                signature = tronch.sign_request("POST", "/orders", body, secret=customer.signing_secret)
                tampered = httpx.post(f"{api}/orders", content=b'{"sku": "A-1", "quantity": 200}',
                                      headers={"Authorization": f"Bearer {customer.key}", **signature})
                expect("tampered body", tampered.status_code, tampered.json()["code"], 401, "SIGNATURE_INVALID")

                # The key alone, as copied from a log: refused.
                copied = httpx.post(f"{api}/orders", content=body, headers={"Authorization": f"Bearer {customer.key}"})
                expect("key without a signature", copied.status_code, copied.json()["code"], 401, "SIGNATURE_INVALID")
            finally:
                server.shutdown()
                server.server_close()
        admin.keys.revoke(customer.id)
        admin.keys.revoke(backend.id)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tronch.TronchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
