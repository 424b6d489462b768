"""The asynchronous client (tronch.AsyncClient) in an asyncio program: keys created and verified concurrently,
a list read with `async for`, a person's login (with the second factor when their account has one), switching
the client between the person's tokens and a key, and logging out.

    pip install ./clients/python
    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... python docs/examples/python/async_client.py

TRONCH_API_KEY must be allowed to manage keys and users (the root key printed by `tronch serve` is). The demo
logs in once and removes what it made. Exits with 0 when every step worked, 1 otherwise.
"""

import asyncio
import os
import secrets
import sys
import uuid

import tronch


async def main() -> int:
    url = os.environ.get("TRONCH_URL", "http://127.0.0.1:8080")
    api_key = os.environ.get("TRONCH_API_KEY")
    if not api_key:
        print("set TRONCH_API_KEY to a Tronch key that may manage keys and users (for example the root key)",
              file=sys.stderr)
        return 2
    owner = f"cus_{uuid.uuid4().hex[:8]}"

    async with tronch.AsyncClient(url, api_key=api_key) as client:
        # 1. Three keys, created concurrently; then each verified, concurrently too.
        created = await asyncio.gather(*[
            client.keys.create(name=f"Acme worker {n}", owner_id=owner, scopes=["orders:read"]) for n in range(3)
        ])
        verdicts = await asyncio.gather(*[client.keys.verify(k.key, scopes=["orders:read"]) for k in created])
        print(f"created and verified {len(created)} keys: {', '.join(v.code for v in verdicts)}")
        if not all(verdicts):
            return 1

        # 2. Every key of the customer, page after page (two a page here), with `async for`.
        names = [key.name async for key in client.keys.list(owner_id=owner, limit=2)]
        print(f"listed {len(names)} keys: {', '.join(sorted(str(n) for n in names))}")

        # 3. A person logs in; the client then sends their access token and refreshes it by itself.
        username = f"ada_{uuid.uuid4().hex[:8]}"
        password = f"correct-{secrets.token_urlsafe(16)}"
        user = await client.users.create(username=username, email=f"{username}@example.com", password=password)
        try:
            async with tronch.AsyncClient(url) as person:
                person.set_api_key(None)  # not TRONCH_API_KEY: this client is the person's
                try:
                    pair = await person.login(username, password=password)
                except tronch.MFARequiredError as challenge:  # an account with a second factor
                    pair = await person.complete_mfa(challenge, code=input("code from your app: "))
                me = await person.users.me()
                print(f"logged in as {me.username}: session {pair.session_id}, token for {pair.expires_in} s")

                # 4. A key of their own, then the same client switched to it, and back to the tokens.
                own = await person.keys.create(name="Ada's script", scopes=["keys:read"])
                person.set_api_key(own.key)
                print(f"as the key: me={(await person.users.me()).username}")
                person.set_access_token(pair)
                print(f"with the tokens again: keys={[k.name async for k in person.keys.list()]}")

                # 5. Logging out ends the session; the client forgets its tokens.
                await person.logout()
                print(f"logged out: the client holds a token: {person.has_access_token}")
        finally:
            await client.users.delete(user.id)

        for key in created:
            await client.keys.revoke(key.id)
        print(f"revoked {len(created)} keys")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except tronch.TronchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
