"""A tiny scriptable HTTP server (http.server in a thread) that answers with a queue of canned responses."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Union

DROP = "DROP"  # close the connection without answering


@dataclass
class Canned:
    status: int
    body: Union[bytes, Dict[str, Any]] = b""
    headers: Optional[Dict[str, str]] = None

    def encode(self) -> bytes:
        return json.dumps(self.body).encode() if isinstance(self.body, dict) else self.body


@dataclass
class Seen:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


def problem(status: int, code: str, detail: str, retry_after: Optional[str] = None) -> Canned:
    headers = {"Content-Type": "application/problem+json", "X-Request-Id": f"req_stub_{status}"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = {
        "type": "urn:tronch:problem:" + code.lower().replace("_", "-"),
        "title": "Service Unavailable" if status == 503 else "Error",
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": f"req_stub_{status}",
    }
    return Canned(status, body, headers)


def ok(body: Dict[str, Any], status: int = 200) -> Canned:
    return Canned(status, body, {"Content-Type": "application/json", "X-Request-Id": "req_stub_ok"})


class StubServer:
    def __init__(self) -> None:
        self.responses: List[Union[Canned, str]] = []
        self.requests: List[Seen] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with stub._lock:
                    stub.requests.append(Seen(self.command, self.path, dict(self.headers), body))
                    response = stub.responses.pop(0) if stub.responses else Canned(500, b"no canned response")
                if response == DROP:
                    self.close_connection = True
                    return
                assert isinstance(response, Canned)
                payload = response.encode()
                self.send_response(response.status)
                for name, value in (response.headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def script(self, *responses: Union[Canned, str]) -> None:
        self.responses.extend(responses)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
