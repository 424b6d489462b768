"""The HTTP client: credentials (a key, or a person's tokens with automatic refresh), retries with backoff,
and mapping of problem answers to exceptions."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, Union
from urllib.parse import quote, urlencode

import httpx

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    FieldError,
    MFARequiredError,
    RateLimitError,
    ServiceUnavailableError,
    TokenInvalidError,
    TronchError,
    error_class_for,
)
from ._models import TokenPair
from ._resources import ACLEntries, AuditLogs, Auth, Authz, Groups, Keys, Sessions, Users
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


def _query_string(params: Optional[Mapping[str, Any]]) -> str:
    """``?name=value&...`` for the parameters that are not ``None`` (``""`` when none is left).

    Spaces are sent as ``%20``, not ``+`` as ``httpx`` does: Tronch reads a ``+`` in a query as a plus sign,
    so ``q=acme+web`` would look for "acme+web". Booleans are sent as ``true`` and ``false``."""
    pairs: List[Tuple[str, str]] = []
    for name, value in (params or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((str(name), text))
    return "?" + urlencode(pairs, quote_via=quote) if pairs else ""


def _is_problem(response: httpx.Response) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.split(";")[0].strip().lower() == "application/problem+json"


def _check_credential(value: str, name: str = "api_key") -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    value = value.strip()
    if not value:
        raise ValueError(f"{name} must not be empty")
    # Checked here so that httpx never builds an error message around the value.
    if any(not (0x21 <= ord(c) <= 0x7E) for c in value):
        raise ValueError(f"{name} must contain only printable ASCII characters without spaces")
    return value


def _check_api_key(api_key: str) -> str:
    return _check_credential(api_key, "api_key")


class Client:
    """A synchronous client for Tronch's HTTP API.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8080`` (a trailing ``/api/v1`` is accepted). Default:
            the ``TRONCH_URL`` environment variable, or ``http://127.0.0.1:8080``.
        api_key: the Tronch key to call the API with, sent as ``X-API-Key``. Default: ``TRONCH_API_KEY``.
            A person logs in instead with :meth:`login` (and :meth:`complete_mfa` when they have a second
            factor), or :meth:`use_token`: the client then sends their access token as
            ``Authorization: Bearer``.
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
        auto_refresh: when a request made with an access token is refused with ``TOKEN_INVALID`` (the token
            expired or was revoked) and the client holds a refresh token, refresh once and send the request
            again with the new access token. Safe for every method: Tronch refuses the token before the
            route does anything.
        on_refresh: called with each new :class:`TokenPair` the client gets from a refresh of its own refresh
            token (automatic or ``client.auth.refresh()``). The previous refresh token is dead from then on,
            so store this one if you keep sessions across restarts.

    Keys, tokens and passwords never appear in ``repr(client)``, in exceptions or in the ``tronch`` logger's
    messages.
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
        auto_refresh: bool = True,
        on_refresh: Optional[Callable[[TokenPair], None]] = None,
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
        self.auto_refresh = auto_refresh
        self.on_refresh = on_refresh
        # One credential at a time: a key, or a person's tokens. The lock makes a refresh happen once when
        # several threads see the same expired access token (a second refresh with the same refresh token
        # would be taken for a stolen token, and end the session).
        self._credential_lock = threading.RLock()
        self._api_key: Optional[str] = None
        self._access_token: Optional[str] = None
        self._refresh_token: Optional[str] = None
        self._token_pair: Optional[TokenPair] = None
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
        self.users = Users(self)
        self.sessions = Sessions(self)
        self.auth = Auth(self)
        self.groups = Groups(self)
        self.acl_entries = ACLEntries(self)
        self.authz = Authz(self)

    # -- credentials and lifecycle ----------------------------------------------------------------------

    def set_api_key(self, api_key: Optional[str]) -> None:
        """Uses this key for the following requests (``None``: send no credential). Tokens the client held
        are forgotten (their session stays live: call ``client.auth.logout()`` first to end it)."""
        checked = None if api_key is None else _check_api_key(api_key)
        with self._credential_lock:
            self._api_key = checked
            self._access_token = self._refresh_token = None
            self._token_pair = None

    def use_token(self, token: Union[TokenPair, str, None], refresh_token: Optional[str] = None) -> None:
        """Sends a person's access token (``Authorization: Bearer``) from now on instead of a key.

        ``token`` is a :class:`TokenPair` (from ``client.auth.login()`` or ``refresh()``), whose refresh token
        the client keeps to refresh by itself, or an access token as a string (with ``refresh_token`` if you
        have one). ``None`` forgets the tokens and sends no credential. A key set before is forgotten.
        """
        with self._credential_lock:
            if token is None:
                self._access_token = self._refresh_token = None
                self._token_pair = None
                return
            if isinstance(token, TokenPair):
                if refresh_token is not None:
                    raise TypeError("pass a TokenPair, or an access token with refresh_token, not both")
                access = _check_credential(token.access_token, "access_token")
                refresh = _check_credential(token.refresh_token, "refresh_token") if token.refresh_token else None
                pair: Optional[TokenPair] = token
            else:
                access = _check_credential(token, "access_token")
                refresh = None if refresh_token is None else _check_credential(refresh_token, "refresh_token")
                pair = None
            self._api_key = None
            self._access_token, self._refresh_token, self._token_pair = access, refresh, pair

    def login(self, username: Optional[str] = None, *, email: Optional[str] = None, password: str) -> TokenPair:
        """Logs a person in (``POST /api/v1/auth/login``) and sends their access token from now on; returns
        the :class:`TokenPair`. Raises :class:`InvalidCredentialsError` when refused (whatever the reason).
        Same as ``client.use_token(client.auth.login(...))``.

        For an account with a second factor, a right password raises :class:`MFARequiredError` instead (the
        client's credential is unchanged): pass its ``mfa_token`` and a code to :meth:`complete_mfa`.
        """
        pair = self.auth.login(username=username, email=email, password=password)
        self.use_token(pair)
        return pair

    def complete_mfa(
        self,
        mfa_token: Union[str, MFARequiredError],
        *,
        code: Optional[str] = None,
        recovery_code: Optional[str] = None,
    ) -> TokenPair:
        """Finishes a login or a step-up with a second factor (``POST /api/v1/auth/mfa``) and sends the new
        access token from now on, as :meth:`login` does; returns the :class:`TokenPair`.

        ``mfa_token`` is the ``mfa_token`` of an :class:`MFARequiredError` (or the error itself); pass
        exactly one of ``code`` (a current TOTP code) and ``recovery_code``. A refused code or a dead token
        raises :class:`MFAInvalidError` and leaves the client's credential alone. After a step-up (an
        ``MFARequiredError`` from another call) the new tokens belong to a new session that replaces the old
        one, whose tokens stop working: repeat the refused request. Same as
        ``client.use_token(client.auth.complete_mfa(...))``.
        """
        pair = self.auth.complete_mfa(mfa_token, code=code, recovery_code=recovery_code)
        self.use_token(pair)
        return pair

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    @property
    def has_access_token(self) -> bool:
        return self._access_token is not None

    @property
    def token_pair(self) -> Optional[TokenPair]:
        """The tokens the client uses now (the latest after a refresh), or ``None``: with a key, no
        credential, or an access token given as a string."""
        return self._token_pair

    @property
    def session_id(self) -> Optional[str]:
        """The session of the tokens the client uses, when it got them as a :class:`TokenPair`."""
        pair = self._token_pair
        return pair.session_id if pair is not None and pair.session_id else None

    def _credential_headers(self) -> Tuple[Dict[str, str], Optional[str]]:
        """The credential header for a request, and the access token sent (``None`` for a key or nothing)."""
        with self._credential_lock:
            if self._access_token is not None:
                return {"Authorization": f"Bearer {self._access_token}"}, self._access_token
            if self._api_key is not None:
                return {"X-API-Key": self._api_key}, None
            return {}, None

    def _refresh(self, refresh_token: Optional[str]) -> TokenPair:
        """``POST /api/v1/auth/refresh`` with ``refresh_token``, or the client's own; a pair from the
        client's own refresh token replaces the client's tokens."""
        with self._credential_lock:
            held = self._refresh_token
            token = held if refresh_token is None else refresh_token
            if token is None:
                raise ValueError("no refresh token: pass one, or log in with client.login() first")
            own = held is not None and token == held
            try:
                # A POST: never replayed after a connection error (the first attempt may have used the token up,
                # and presenting it again would end the session as if it had been stolen).
                answer = self.request("POST", "/auth/refresh", json={"refresh_token": token}, authenticate=False)
            except AuthenticationError:
                if own and self._refresh_token == token:
                    # Refused for good: never present it again. The access token stays until it is refused.
                    self._refresh_token = None
                    self._token_pair = None
                raise
            pair = TokenPair.from_dict(answer or {})
            if own and self._refresh_token == token:
                self.use_token(pair)
                if self.on_refresh is not None:
                    self.on_refresh(pair)
            return pair

    def _renew_after_refusal(self, token_sent: str) -> bool:
        """After ``TOKEN_INVALID`` for ``token_sent``: whether the request may go again with a new access token
        (refreshing now, unless another thread already did). Raises what the refresh raises."""
        with self._credential_lock:
            if self._access_token is None:
                return False  # switched to a key or to nothing meanwhile
            if self._access_token != token_sent:
                return True  # refreshed by another thread (or replaced) meanwhile
            if self._refresh_token is None:
                return False
            logger.info("access token refused (TOKEN_INVALID); refreshing session %s", self.session_id)
            self._refresh(None)
            return True

    def _forget_tokens(self, *, session_id: Optional[str] = None, refresh_token: Optional[str] = None) -> None:
        """Drops the client's tokens when their session has ended (logout, revoked session or refresh token)."""
        with self._credential_lock:
            if self._access_token is None:
                return
            if session_id is not None and session_id.lower() != (self.session_id or "").lower():
                return
            if refresh_token is not None and refresh_token != self._refresh_token:
                return
            self._access_token = self._refresh_token = None
            self._token_pair = None

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
        if self._access_token is not None:
            refresh = "<redacted>" if self._refresh_token is not None else "None"
            credential = f"access_token=<redacted> refresh_token={refresh} session_id={self.session_id!r}"
        else:
            credential = "api_key=" + ("<redacted>" if self._api_key is not None else "None")
        return f"<tronch.Client base_url={self.base_url!r} {credential} max_retries={self.max_retries}>"

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
        authenticate: bool = True,
        idempotent: Optional[bool] = None,
    ) -> Any:
        """Sends a request to ``/api/v1`` + ``path`` with retries and returns the parsed JSON answer
        (``None`` for an empty one, such as a 204).

        Raises a :class:`TronchError` subclass for error answers and :class:`APIConnectionError` when no
        answer was received. ``authenticate=False`` sends no credential (for login, refresh, revoke).
        ``idempotent`` says whether the request may be replayed after a connection error (default: by its
        method, ``GET``, ``PUT``, ``DELETE``, ... yes, ``POST`` and ``PATCH`` no). The typed methods
        (``client.keys``, ``client.users``, ...) use this.
        """
        return self._request_url(
            method, API_PREFIX + path, params=params, json=json, authenticate=authenticate, idempotent=idempotent
        )

    def _request_response(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json: Optional[Any] = None,
        idempotent: Optional[bool] = None,
    ) -> httpx.Response:
        """Like :meth:`request`, but returns the answer itself (for routes whose status says something, such
        as ``201`` or ``204`` for a group membership)."""
        return self._send(method, API_PREFIX + path, params=params, json=json, idempotent=idempotent)

    def _request_url(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json: Optional[Any] = None,
        authenticate: bool = True,
        idempotent: Optional[bool] = None,
    ) -> Any:
        response = self._send(method, url, params=params, json=json, authenticate=authenticate, idempotent=idempotent)
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
        authenticate: bool = True,
        idempotent: Optional[bool] = None,
    ) -> httpx.Response:
        headers, token_sent = self._credential_headers() if authenticate else ({}, None)
        try:
            return self._attempts(method, url, params=params, json=json, headers=headers, idempotent=idempotent)
        except TokenInvalidError:
            # The access token was refused before the route did anything, so even a POST can go again, once.
            if token_sent is None or not self.auto_refresh or not self._renew_after_refusal(token_sent):
                raise
        headers, _ = self._credential_headers()
        return self._attempts(method, url, params=params, json=json, headers=headers, idempotent=idempotent)

    def _attempts(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]],
        json: Optional[Any],
        headers: Dict[str, str],
        idempotent: Optional[bool] = None,
    ) -> httpx.Response:
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        target = url + _query_string(params)
        attempt = 0
        while True:
            started = time.monotonic()
            failure: Optional[APIConnectionError] = None
            cause: Optional[BaseException] = None
            try:
                response = self._http.request(method, target, json=json, headers=headers)
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
        cls = error_class_for(status, code)
        if cls in (RateLimitError, ServiceUnavailableError):
            kwargs["retry_after"] = _parse_retry_after(response.headers.get("retry-after"))
        return cls(detail, **kwargs)
