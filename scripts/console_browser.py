"""Walks the web console in a real headless Chromium, driven over the Chrome DevTools protocol (a pipe: no
websocket, no package beyond the standard library), against a running `tronch serve`:

sign in with a password, the second factor, the keys page, create a key, copy its secret with the copy
button, its usage chart after some verifications, an edit of its name and rate limit, revoke it after the confirmation page, the audit log and
its filter, the sessions and "sign out everywhere"; then an administrator's people, group and ACL pages; with
(full-page) screenshots of each page, and checks of every
page's HTML (every form carries the CSRF field, no inline script or event handler, the CSP header) and of the
refusals (a form without its CSRF token, a page without a session).

    python3 scripts/console_browser.py BASE_URL ROOT_KEY SCREENSHOT_DIR

The root key creates the person who signs in (a member with TOTP enrolled through the API).
"""

import base64, hashlib, hmac, json, os, struct, subprocess, sys, tempfile, time, urllib.error, urllib.request

BASE, ROOT_KEY, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def api(method, path, body=None, key=ROOT_KEY):
    request = urllib.request.Request(BASE + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int((at or time.time()) // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


class Browser:
    """Chromium with --remote-debugging-pipe: CDP messages are JSON separated by NUL on fds 3 (in) and 4 (out)."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="tronch-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def wire():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-pipe",
             "--no-first-run", "--no-default-browser-check", "--window-size=1200,900", "--user-data-dir=" + self.profile, "about:blank"],
            # The pipes' ends become fds 3 and 4 in the child, after which every fd not passed is closed.
            preexec_fn=wire, pass_fds=(3, 4, to_chrome_r, from_chrome_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, params=None, browser_level=False):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session and not browser_level:
            message["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + 30
        while time.time() < deadline:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self.next_id:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer.get("result", {})
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buffer += chunk
        raise RuntimeError(f"{method}: no answer in 30 s")

    def evaluate(self, expression, wait=False):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": wait, "userGesture": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def mark(self):
        """Marks the current document, so that `settle` waits for the next one."""
        self.evaluate("window.__tronchOld = true")

    def settle(self, path_prefix):
        """Waits until a new document (not one `mark` marked) at a path starting with `path_prefix` has loaded."""
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                state = self.evaluate("[location.pathname, document.readyState, window.__tronchOld === true]")
                if state and state[0].startswith(path_prefix) and state[1] == "complete" and not state[2]:
                    return
            except RuntimeError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"never reached {path_prefix}: at {self.evaluate('location.href')}")

    def goto(self, url, path_prefix):
        self.mark()
        self.call("Page.navigate", {"url": url})
        self.settle(path_prefix)

    def submit(self, form_selector, fields, path_prefix):
        for name, value in fields.items():
            self.evaluate(f"document.querySelector({json.dumps(form_selector)}).elements[{json.dumps(name)}].value = {json.dumps(value)}")
        self.mark()
        self.evaluate(f"document.querySelector({json.dumps(form_selector)}).requestSubmit()")
        self.settle(path_prefix)

    def click(self, selector):
        box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def screenshot(self, name):
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 3000), "scale": 1}
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
        with open(os.path.join(SHOTS, name + ".png"), "wb") as file:
            file.write(base64.b64decode(data))

    def check_page(self, label):
        """Every form that posts has the CSRF field; no inline script, no event-handler attribute, no inline style; labels."""
        problems = self.evaluate("""(() => {
            const problems = [];
            for (const form of document.forms) {
              const method = (form.getAttribute('method') || 'get').toLowerCase();
              if (method !== 'get' && !form.querySelector('input[type=hidden][name=csrf]')) problems.push('form without csrf: ' + form.getAttribute('action'));
            }
            for (const script of document.scripts) if (!script.src) problems.push('inline script');
            for (const element of document.querySelectorAll('*')) for (const attribute of element.attributes) {
              if (attribute.name.startsWith('on')) problems.push('event handler ' + attribute.name);
              if (attribute.name === 'style') problems.push('inline style');
            }
            for (const input of document.querySelectorAll('input:not([type=hidden]), select')) {
              if (!input.id || !document.querySelector('label[for="' + input.id + '"]')) problems.push('input without a label: ' + input.name);
            }
            if (!document.querySelector('link[rel=stylesheet]') || getComputedStyle(document.body).fontFamily === '') problems.push('no style sheet');
            return problems;
        })()""")
        assert not problems, f"{label}: {problems}"

    def close(self):
        self.process.kill()
        self.process.wait()


def header(path, name):
    with urllib.request.urlopen(BASE + path) as response:
        return response.headers.get(name)


def main():
    os.makedirs(SHOTS, exist_ok=True)
    # A member with an authenticator app, made through the API.
    status, user = api("POST", "/api/v1/users", {"username": "carol", "email": "carol@example.com", "password": "a long console password", "role": "member"})
    assert status == 201, user
    status, tokens = api("POST", "/api/v1/auth/login", {"username": "carol", "password": "a long console password"}, key=None)
    assert status == 200, tokens
    status, enrolment = api("POST", "/api/v1/users/me/mfa/totp", {}, key=tokens["access_token"])
    assert status in (200, 201), enrolment
    secret = enrolment["secret"]
    status, confirmed = api("POST", "/api/v1/users/me/mfa/totp/confirm", {"code": totp(secret)}, key=tokens["access_token"])
    assert status in (200, 201), confirmed
    # Someone else's key, which carol must not see.
    status, other = api("POST", "/api/v1/keys", {"name": "administrators' key"})
    assert status == 201, other

    csp = header("/console/login", "Content-Security-Policy")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, csp

    browser = Browser()
    try:
        browser.goto(BASE + "/console", "/console/login")
        browser.check_page("login")
        browser.screenshot("01-login")
        browser.submit("form[action='/console/login']", {"username": "carol", "password": "wrong password entirely"}, "/console/login")
        assert "wrong" in browser.evaluate("document.body.innerText"), browser.evaluate("document.body.innerText")
        browser.submit("form[action='/console/login']", {"username": "carol", "password": "a long console password"}, "/console/login")
        assert browser.evaluate("document.querySelector('h1').textContent") == "Second factor", browser.evaluate("document.body.innerText")
        browser.check_page("second factor")
        browser.screenshot("02-second-factor")
        # The next step's code: the enrolment used this step's, and a code is accepted once (the window allows one step).
        browser.submit("form[action='/console/mfa']", {"code": totp(secret, time.time() + 30)}, "/console/keys")
        browser.check_page("keys")
        assert "administrators' key" not in browser.evaluate("document.body.innerText"), "a member sees only their own keys"
        browser.screenshot("03-keys")

        browser.submit("form[action='/console/keys']", {"name": "browser key", "scopes": "orders:read orders:write", "expires_in_days": "30"}, "/console/keys")
        assert browser.evaluate("document.querySelector('h1').textContent") == "Key created", browser.evaluate("document.body.innerText")
        shown = browser.evaluate("document.getElementById('secret').textContent.trim()")
        assert shown.startswith("tronch_sk_live_"), shown
        browser.call("Browser.grantPermissions", {"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"], "origin": BASE}, browser_level=True)
        browser.click("[data-copy]")
        deadline = time.time() + 5
        while browser.evaluate("document.querySelector('[data-copy]').textContent") not in ("Copied", "Copy failed: select the text") and time.time() < deadline:
            time.sleep(0.05)
        copied = browser.evaluate("document.querySelector('[data-copy]').textContent")
        assert copied == "Copied", copied
        clipboard = browser.evaluate("navigator.clipboard.readText().catch(() => null)", wait=True)
        assert clipboard in (shown, None), "the clipboard holds the secret"
        browser.screenshot("04-created")
        status, verified = api("POST", "/api/v1/keys/verify", {"key": shown, "scopes": ["orders:read"]})
        assert verified["valid"] and verified["owner_id"] == "user:" + user["id"], verified

        # Some traffic, then the key's page: a chart of it (the usage counters are written every 2 s).
        for scopes in (["orders:read"], ["orders:read"], ["orders:read"], ["billing:admin"]):
            api("POST", "/api/v1/keys/verify", {"key": shown, "scopes": scopes})
        key_id = verified["key_id"]
        deadline = time.time() + 15
        while True:
            browser.goto(BASE + "/console/keys/" + key_id, "/console/keys/" + key_id)
            bars = browser.evaluate("[document.querySelectorAll('svg.chart rect.bar-valid').length, document.querySelectorAll('svg.chart rect.bar-refused').length]")
            if bars == [1, 1] or time.time() > deadline:
                break
            time.sleep(0.5)
        assert bars == [1, 1], f"one hour with valid and refused verifications: {bars}"
        numbers = browser.evaluate("Array.from(document.querySelectorAll('table.numbers tbody td')).slice(1).map(td => td.textContent)")
        assert numbers == ["4", "1"] or numbers == ["3", "1"], numbers
        browser.submit("form[action$='/edit']", {"name": "browser key, edited", "ratelimits": "api:50/60"}, "/console/keys/" + key_id)
        assert browser.evaluate("document.querySelector('h1').textContent") == "browser key, edited"
        status, edited = api("GET", "/api/v1/keys/" + key_id)
        assert edited["ratelimits"][0]["limit"] == 50 and edited["scopes"] == ["orders:read", "orders:write"], edited
        browser.check_page("key")
        browser.screenshot("05-usage")

        # A form without its CSRF token is refused, even with the session's cookies.
        refused = browser.evaluate("fetch('/console/keys', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=forged'}).then(r => r.status)", wait=True)
        assert refused == 403, refused

        browser.goto(BASE + "/console/keys", "/console/keys")
        browser.mark()
        browser.click("a[href$='/revoke']")
        browser.settle("/console/keys/")
        browser.check_page("confirm revoke")
        browser.screenshot("06-confirm-revoke")
        browser.submit("form[action$='/revoke']", {}, "/console/keys")
        assert "revoked" in browser.evaluate("document.querySelector('tbody').innerText")
        browser.screenshot("07-revoked")
        status, verified = api("POST", "/api/v1/keys/verify", {"key": shown})
        assert verified["code"] == "REVOKED", verified

        # The person's own audit entries, filtered.
        browser.goto(BASE + "/console/audit", "/console/audit")
        actions = browser.evaluate("Array.from(document.querySelectorAll('tbody code')).map(c => c.textContent)")
        assert "key.created" in actions and "key.revoked" in actions and "root_key.bootstrapped" not in actions, actions
        browser.submit("form.filters", {"action": "key.revoked"}, "/console/audit")
        assert browser.evaluate("Array.from(document.querySelectorAll('tbody code')).map(c => c.textContent)") == ["key.revoked"]
        browser.check_page("audit")
        browser.screenshot("08-audit")

        # Sessions, and signing out everywhere.
        browser.goto(BASE + "/console/sessions", "/console/sessions")
        assert "(this one)" in browser.evaluate("document.body.innerText")
        browser.check_page("sessions")
        browser.screenshot("09-sessions")
        browser.submit("form[action='/console/sessions/end-all']", {}, "/console/login")
        browser.goto(BASE + "/console/keys", "/console/login")
        status, refreshed = api("POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, key=None)
        assert status == 401, "the API login's session ended too"

        # An administrator's pages: people, a group and its members, an ACL entry.
        status, _ = api("POST", "/api/v1/users", {"username": "ada", "email": "ada@example.com", "password": "an administrator password", "role": "admin"})
        assert status == 201
        browser.goto(BASE + "/console/login", "/console/login")
        browser.submit("form[action='/console/login']", {"username": "ada", "password": "an administrator password"}, "/console/keys")
        browser.goto(BASE + "/console/users", "/console/users")
        assert "carol@example.com" in browser.evaluate("document.body.innerText")
        browser.check_page("people")
        browser.screenshot("10-people")
        browser.goto(BASE + "/console/groups", "/console/groups")
        browser.submit("form[action='/console/groups']", {"name": "support", "description": "answers customers"}, "/console/groups/")
        browser.submit("form[action$='/members']", {"member": "carol"}, "/console/groups/")
        assert "carol" in browser.evaluate("document.querySelector('tbody').innerText")
        browser.check_page("group")
        browser.screenshot("11-group")
        browser.goto(BASE + "/console/acl", "/console/acl")
        browser.submit("form[method='post'][action='/console/acl']", {"resource": "project:acme/web", "principal": "carol", "action": "read"}, "/console/acl")
        assert "project:acme/web" in browser.evaluate("document.querySelector('tbody').innerText")
        browser.check_page("access control")
        browser.screenshot("12-acl")
        status, decision = api("POST", "/api/v1/authz/check", {"principal": "user:" + user["id"], "action": "read", "resource": "project:acme/web/index"})
        assert status == 200 and decision["allowed"] is False, decision  # an acl entry covers the resource itself, not below it
        status, decision = api("POST", "/api/v1/authz/check", {"principal": "user:" + user["id"], "action": "read", "resource": "project:acme/web"})
        assert decision["allowed"] is True, decision
        print(f"console walk passed: 12 screenshots in {SHOTS}; clipboard: {copied}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
