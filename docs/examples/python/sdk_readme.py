"""The first example of clients/python/README.md, run as it stands (the README quotes it from here, and
scripts/check-docs runs it and checks that the quote is verbatim), then checked.

    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... python docs/examples/python/sdk_readme.py
"""

import os
import tronch

# The server is $TRONCH_URL (default http://127.0.0.1:8080); the key, the root key printed by `tronch serve`.
with tronch.Client(api_key=os.environ["TRONCH_API_KEY"]) as client:
    created = client.keys.create(name="Acme production", owner_id="cus_123", scopes=["orders:read"])
    print(created.id, created.hint)   # 01a2…  tronch_sk_live_oTwF…YoWC
    secret = created.key              # the secret: shown in this answer only, give it to the customer

    verdict = client.keys.verify(secret, scopes=["orders:read"])
    print(verdict.valid, verdict.code, verdict.owner_id)   # True VALID cus_123

assert verdict.valid and verdict.code == "VALID" and verdict.owner_id == "cus_123"
assert secret.startswith("tronch_sk_live_") and created.hint.startswith("tronch_sk_live_")
