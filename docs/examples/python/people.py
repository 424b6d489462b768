"""People and tokens: an administrator creates an account; the person logs in, sees their sessions, makes
a key of their own and switches the client to it; then they log out and the administrator deletes them.

    pip install ./clients/python
    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... python docs/examples/python/people.py

TRONCH_API_KEY must be allowed to manage users and introspect tokens (the root key printed by
`tronch serve` is). The demo logs in once (logins are limited to five a minute per address by default) and
removes what it made. Exits with 0 when every step worked, 1 otherwise.
"""

import os
import secrets
import sys
import uuid

import tronch


def main() -> int:
    url = os.environ.get("TRONCH_URL", "http://127.0.0.1:8080")
    api_key = os.environ.get("TRONCH_API_KEY")
    if not api_key:
        print("set TRONCH_API_KEY to a Tronch key that may manage users (for example the root key)", file=sys.stderr)
        return 2
    username = f"ada_{uuid.uuid4().hex[:8]}"
    password = f"correct-{secrets.token_urlsafe(16)}"  # at least 12 characters, not a common password

    with tronch.Client(url, api_key=api_key) as admin, tronch.Client(url) as client:
        # 1. An administrator creates the account (role member: their own keys, account and sessions).
        user = admin.users.create(username=username, email=f"{username}@example.com", password=password,
                                  display_name="Ada")
        print(f"created user {user.id} {user.username} role={user.role}")
        try:
            # 2. The person logs in: from now on the client sends their access token (a JWT, ten minutes),
            #    and refreshes it by itself with the refresh token when it is refused.
            pair = client.login(username, password=password)
            print(f"logged in: session {pair.session_id}, access token for {pair.expires_in} s")
            me = client.users.me()
            print(f"me: {me.username} ({me.display_name}) role={me.role}")
            for session in client.sessions.list():
                print(f"session {session.id} from {session.ip} amr={','.join(session.amr)}")

            # 3. A key of their own (owner_id user:<id>): a script of theirs can use it instead of a password.
            key = client.keys.create(name="Ada's script", scopes=["keys:read"])
            print(f"created key {key.hint} owner={key.owner_id}")
            access_token = pair.access_token
            client.auth.logout()  # ends the session: its tokens stop working at once
            print(f"logged out; the access token is active: {admin.auth.introspect(access_token).active}")

            # 4. Switch the client to the key: it acts as Ada, with at most her rights and the key's scopes.
            client.set_api_key(key.key)
            print(f"as the key: me={client.users.me().username}, keys={[k.name for k in client.keys.list()]}")
            try:
                client.keys.create(name="needs keys:write")
                print("the key could create a key: unexpected")
                return 1
            except tronch.PermissionDeniedError as error:
                print(f"as the key: create refused ({error.code})")
        finally:
            # 5. Deleting the user revokes their keys and ends their sessions.
            admin.users.delete(user.id)
            print(f"deleted user {user.username}")
        if admin.keys.get(key.id).status != "revoked":
            return 1
        print("their key is revoked")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tronch.TronchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
