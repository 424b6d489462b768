"""The HTTP client: authentication, retries with backoff, and mapping of problem answers to exceptions."""

from __future__ import annotations

import logging
import os
import random
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Callable, Dict, List, Mapping, Optional, Type, Union

import httpx

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    FieldError,
    RateLimitError,
    ServiceUnavailableError,
    TronchError,
    error_class_for_status,
)
from ._resources import AuditLogs, Keys
from ._version import __version__

__all__ = ["Client", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
API_PREFIX = "/api/v1"

logger = logging.getLogger("tronch")

# Methods that can be replayed after a connection error without changing the outcome. POST (create, rotate,
# verify) and PATCH are not replayed: the first attempt may have reached the server.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRYABLE_STATUSES = frozenset({429, 503})


def _parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date. ``None`` when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _is_problem(response: httpx.Response) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.split(";")[0].strip().lower() == "application/problem+json"


def _check_api_key(api_key: str) -> str:
    if not isinstance(api_key, str):
        raise TypeError("api_key must be a string")
    api_key = api_key.strip()
    if not api_key:
        raise ValueError("api_key must not be empty")
    # Checked here so that httpx never builds an error message around the value.
    if any(not (0x21 <= ord(c) <= 0x7E) for c in api_key):
        raise ValueError("api_key must contain only printable ASCII characters without spaces")
    return api_key


class Client:
    """A synchronous client for Tronch's HTTP API.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8080`` (a trailing ``/api/v1`` is accepted). Default:
            the ``TRONCH_URL`` environment variable, or ``http://127.0.0.1:8080``.
        api_key: the Tronch key to call the API with, sent as ``X-API-Key``. Default: ``TRONCH_API_KEY``.
        timeout: seconds for each attempt (a float or an ``httpx.Timeout``).
        max_retries: how many times a request is retried after a ``429``, a ``503``, or (for idempotent
            methods only) a connection error. ``0`` disables retries.
        max_retry_wait: the longest ``Retry-After`` the client waits for, in seconds. A longer one raises at
            once (``RateLimitError`` or ``ServiceUnavailableError``) instead of blocking.
        backoff_base, backoff_max: exponential backoff: attempt ``n`` waits up to
            ``min(backoff_max, backoff_base * 2**n)`` seconds, with full jitter on the upper half; never less
            than ``Retry-After`` when the server sends it.
        sleep: the function used to wait between attempts (``time.sleep``); inject one in tests.
        transport: an ``httpx`` transport (for tests, e.g. ``httpx.MockTransport``).
        headers: extra headers sent with every request.

    The key never appears in ``repr(client)``, in exceptions or in the ``tronch`` logger's messages.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: Union[float, httpx.Timeout] = 10.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Optional[Callable[[float], None]] = None,
        transport: Optional[httpx.BaseTransport] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if max_retry_wait < 0:
            raise ValueError("max_retry_wait must be >= 0")
        url = (base_url or os.environ.get("TRONCH_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        if url.endswith(API_PREFIX):
            url = url[: -len(API_PREFIX)]
        self.base_url = url
        self.max_retries = max_retries
        self.max_retry_wait = float(max_retry_wait)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self._sleep: Callable[[float], None] = sleep if sleep is not None else time.sleep
        self._api_key: Optional[str] = None
        if api_key is None:
            api_key = os.environ.get("TRONCH_API_KEY") or None
        if api_key is not None:
            self.set_api_key(api_key)
        default_headers = {
            "Accept": "application/json",
            "User-Agent": f"tronch-python/{__version__} httpx/{httpx.__version__}",
        }
        default_headers.update(headers or {})
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers=default_headers,
            follow_redirects=False,
        )
        self.keys = Keys(self)
        self.audit_logs = AuditLogs(self)

    # -- key and lifecycle ------------------------------------------------------------------------------

    def set_api_key(self, api_key: Optional[str]) -> None:
        """Uses another key for the following requests (``None``: send none)."""
        self._api_key = None if api_key is None else _check_api_key(api_key)

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def close(self) -> None:
        """Closes the connection pool. The client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "<redacted>" if self._api_key is not None else "None"
        return f"<tronch.Client base_url={self.base_url!r} api_key={key} max_retries={self.max_retries}>"

    __str__ = __repr__

    # -- requests ---------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * (2.0**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _wait(self, delay: float) -> None:
        if delay > 0:
            self._sleep(delay)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json: Optional[Any] = None,
    ) -> Any:
        """Sends a request to ``/api/v1`` + ``path`` with retries and returns the parsed JSON answer.

        Raises a :class:`TronchError` subclass for error answers and :class:`APIConnectionError` when no
        answer was received. The typed methods (``client.keys``, ``client.audit_logs``) use this.
        """
        response = self._send(method, API_PREFIX + path, params=params, json=json)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TronchError(
                f"the server answered {response.status_code} with a body that is not JSON",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
                headers=response.headers,
            ) from exc

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json: Optional[Any] = None,
    ) -> httpx.Response:
        method = method.upper()
        idempotent = method in _IDEMPOTENT_METHODS
        headers: Dict[str, str] = {}
        if self._api_key is not None:
            headers["X-API-Key"] = self._api_key
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            started = time.monotonic()
            failure: Optional[APIConnectionError] = None
            cause: Optional[BaseException] = None
            try:
                response = self._http.request(method, url, params=query or None, json=json, headers=headers)
            except httpx.TimeoutException as exc:
                failure = APITimeoutError(f"{method} {self.base_url}{url} timed out: {type(exc).__name__}")
                cause = exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                failure = APIConnectionError(f"{method} {self.base_url}{url} failed: {exc or type(exc).__name__}")
                cause = exc
            except httpx.TransportError as exc:  # unsupported protocol, proxy errors: not transient
                raise APIConnectionError(f"{method} {self.base_url}{url} failed: {exc or type(exc).__name__}") from exc

            if failure is not None:
                if idempotent and attempt < self.max_retries:
                    delay = self._backoff(attempt)
                    logger.warning(
                        "%s %s: %s; retrying in %.2f s (retry %d of %d)",
                        method, url, failure.detail, delay, attempt + 1, self.max_retries,
                    )
                    self._wait(delay)
                    attempt += 1
                    continue
                raise failure from cause

            status = response.status_code
            request_id = response.headers.get("x-request-id")
            logger.debug(
                "%s %s -> %d in %.1f ms (request_id=%s, attempt %d)",
                method, url, status, (time.monotonic() - started) * 1000, request_id, attempt + 1,
            )
            if status < 400:
                return response

            # 429 and 503 problem answers from Tronch mean that nothing was changed, so even a POST may be
            # replayed; a 503 without a problem body (from a proxy, say) is replayed only when idempotent.
            if status in _RETRYABLE_STATUSES and attempt < self.max_retries and (idempotent or _is_problem(response)):
                retry_after = _parse_retry_after(response.headers.get("retry-after"))
                if retry_after is not None and retry_after > self.max_retry_wait:
                    logger.warning(
                        "%s %s -> %d; Retry-After %.0f s exceeds max_retry_wait %.0f s; not retrying",
                        method, url, status, retry_after, self.max_retry_wait,
                    )
                    raise self._error(response)
                delay = self._backoff(attempt)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                logger.warning(
                    "%s %s -> %d (request_id=%s); retrying in %.2f s (retry %d of %d)",
                    method, url, status, request_id, delay, attempt + 1, self.max_retries,
                )
                response.close()
                self._wait(delay)
                attempt += 1
                continue
            raise self._error(response)

    @staticmethod
    def _error(response: httpx.Response) -> TronchError:
        status = response.status_code
        body: Optional[Dict[str, Any]] = None
        try:
            parsed = response.json()
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        if body is not None:
            code = body.get("code") if isinstance(body.get("code"), str) else None
            detail = body.get("detail") if isinstance(body.get("detail"), str) else None
            request_id = body.get("request_id") if isinstance(body.get("request_id"), str) else None
            found = body.get("errors")
            raw_errors: List[Any] = found if isinstance(found, list) else []
        else:
            code = detail = request_id = None
            raw_errors = []
        if detail is None:
            text = response.text.strip()[:300] if body is None else ""
            detail = f"HTTP {status} {response.reason_phrase}".strip() + (f": {text}" if text else "")
        errors = [
            FieldError(field=str(e.get("field", "")), message=str(e.get("message", "")))
            for e in raw_errors
            if isinstance(e, dict)
        ]
        kwargs: Dict[str, Any] = dict(
            code=code,
            status=status,
            request_id=request_id or response.headers.get("x-request-id"),
            errors=errors,
            headers=response.headers,
            body=body,
        )
        cls = error_class_for_status(status)
        if cls in (RateLimitError, ServiceUnavailableError):
            kwargs["retry_after"] = _parse_retry_after(response.headers.get("retry-after"))
        return cls(detail, **kwargs)
