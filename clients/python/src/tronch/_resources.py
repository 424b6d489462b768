"""The typed API: ``client.keys``, ``client.audit_logs``, ``client.users``, ``client.sessions``,
``client.auth``, ``client.groups``, ``client.acl_entries`` and ``client.authz``, for :class:`Client` (methods
that return the result) and for :class:`AsyncClient` (coroutines; lists are iterated with ``async for``).

Each method is written once, in ``_calls``, as a function that describes its request; the two families of
classes below only execute those descriptions, with the synchronous or the asynchronous client."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Generic, Iterator, Optional, Set, TypeVar

from ._calls import (
    MAX_BATCH_CHECKS,
    NOT_GIVEN,
    ACLEntriesCalls,
    AuditLogsCalls,
    AuthCalls,
    AuthzCalls,
    CheckInput,
    GroupsCalls,
    KeysCalls,
    NotGiven,
    PrincipalInput,
    SessionsCalls,
    UsersCalls,
)
from ._core import Call, Listing, next_cursor
from ._models import Page, TokenPair

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    from ._async_client import AsyncClient
    from ._client import Client

    P = ParamSpec("P")

__all__ = [
    "Keys",
    "AuditLogs",
    "Users",
    "Sessions",
    "Auth",
    "Groups",
    "ACLEntries",
    "Authz",
    "AsyncKeys",
    "AsyncAuditLogs",
    "AsyncUsers",
    "AsyncSessions",
    "AsyncAuth",
    "AsyncGroups",
    "AsyncACLEntries",
    "AsyncAuthz",
    "Paginator",
    "AsyncPaginator",
    "NOT_GIVEN",
    "NotGiven",
    "PrincipalInput",
    "CheckInput",
    "MAX_BATCH_CHECKS",
]

T = TypeVar("T")


class Paginator(Generic[T], Iterator[T]):
    """An iterator over every item of a list, across all pages: it asks for the next page (``cursor`` =
    the previous page's ``next_cursor``) when the current one is used up, and stops after the page whose
    ``next_cursor`` is null. Nothing is requested before the first item is asked for.

    ``pages()`` yields the pages themselves (:class:`Page`, with ``data`` and ``next_cursor``).
    """

    def __init__(self, fetch: Callable[[Optional[str]], Page[T]], cursor: Optional[str] = None) -> None:
        self._fetch = fetch
        self._cursor = cursor
        self._items: Optional[Iterator[T]] = None

    def pages(self) -> Iterator[Page[T]]:
        cursor = self._cursor
        seen: Set[str] = set()
        while True:
            page = self._fetch(cursor)
            yield page
            cursor = next_cursor(page, seen)
            if cursor is None:
                return

    def _iterate(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data

    def __iter__(self) -> "Paginator[T]":
        return self

    def __next__(self) -> T:
        if self._items is None:
            self._items = self._iterate()
        return next(self._items)


class AsyncPaginator(Generic[T], AsyncIterator[T]):
    """The asynchronous :class:`Paginator`: ``async for item in client.keys.list(): ...`` goes over every
    item of a list, fetching the next page when the current one is used up (nothing before the first item
    is asked for). ``async for page in paginator.pages(): ...`` goes page by page.
    """

    def __init__(self, fetch: Callable[[Optional[str]], Awaitable[Page[T]]], cursor: Optional[str] = None) -> None:
        self._fetch = fetch
        self._cursor = cursor
        self._items: Optional[AsyncIterator[T]] = None

    async def pages(self) -> AsyncIterator[Page[T]]:
        cursor = self._cursor
        seen: Set[str] = set()
        while True:
            page = await self._fetch(cursor)
            yield page
            cursor = next_cursor(page, seen)
            if cursor is None:
                return

    async def _iterate(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item

    def __aiter__(self) -> "AsyncPaginator[T]":
        return self

    async def __anext__(self) -> T:
        if self._items is None:
            self._items = self._iterate()
        return await self._items.__anext__()


# -- turning a description into a method ----------------------------------------------------------------


class SyncResource:
    """A group of methods of :class:`Client` (``client.keys``, ...)."""

    def __init__(self, client: "Client") -> None:
        self._client = client


class AsyncResource:
    """A group of methods of :class:`AsyncClient` (``client.keys``, ...)."""

    def __init__(self, client: "AsyncClient") -> None:
        self._client = client


def _adopt(method: Callable[..., Any], build: Callable[..., Any], paginator: str) -> None:
    """Gives ``method`` the name, documentation and signature of ``build`` (with ``self``, and returning the
    result instead of its description: ``Call[Key]`` becomes ``Key``, ``Listing[Key]`` ``Paginator[Key]``
    or ``AsyncPaginator[Key]``), for ``help()`` and editors."""
    method.__name__ = build.__name__
    method.__qualname__ = build.__qualname__
    method.__doc__ = build.__doc__
    signature = inspect.signature(build)
    returned = signature.return_annotation
    if isinstance(returned, str) and returned.startswith("Call[") and returned.endswith("]"):
        returned = returned[len("Call["):-1]
    elif isinstance(returned, str) and returned.startswith("Listing["):
        returned = paginator + returned[len("Listing"):]
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *signature.parameters.values()]
    setattr(method, "__signature__", signature.replace(parameters=parameters, return_annotation=returned))


def _sync(build: "Callable[P, Call[T]]") -> "Callable[Concatenate[SyncResource, P], T]":
    def method(self: SyncResource, /, *args: "P.args", **kwargs: "P.kwargs") -> T:
        return self._client._execute(build(*args, **kwargs))

    _adopt(method, build, "Paginator")
    return method


def _sync_list(build: "Callable[P, Listing[T]]") -> "Callable[Concatenate[SyncResource, P], Paginator[T]]":
    def method(self: SyncResource, /, *args: "P.args", **kwargs: "P.kwargs") -> Paginator[T]:
        listing = build(*args, **kwargs)
        client = self._client
        return Paginator(lambda cursor: client._execute(listing.page(cursor)), listing.cursor)

    _adopt(method, build, "Paginator")
    return method


def _async(build: "Callable[P, Call[T]]") -> "Callable[Concatenate[AsyncResource, P], Awaitable[T]]":
    async def method(self: AsyncResource, /, *args: "P.args", **kwargs: "P.kwargs") -> T:
        return await self._client._execute(build(*args, **kwargs))

    _adopt(method, build, "AsyncPaginator")
    return method


def _async_list(
    build: "Callable[P, Listing[T]]",
) -> "Callable[Concatenate[AsyncResource, P], AsyncPaginator[T]]":
    # Not a coroutine: it returns the AsyncPaginator at once, for `async for`.
    def method(self: AsyncResource, /, *args: "P.args", **kwargs: "P.kwargs") -> AsyncPaginator[T]:
        listing = build(*args, **kwargs)
        client = self._client
        return AsyncPaginator(lambda cursor: client._execute(listing.page(cursor)), listing.cursor)

    _adopt(method, build, "AsyncPaginator")
    return method


_REFRESH_DOC = """Exchanges a refresh token for a new pair (``POST /api/v1/auth/refresh``); the presented token dies.

        Without an argument, the client's own refresh token, and the new pair replaces the client's tokens
        (``on_refresh`` hears of it). A token already exchanged raises :class:`RefreshTokenReusedError` and
        ends its session; one of an ended session :class:`SessionRevokedError`; an unknown or expired one
        :class:`TokenInvalidError`. Never retried after a connection error (the first attempt may have used
        the token up).
        """


# -- the synchronous API --------------------------------------------------------------------------------


class Keys(SyncResource):
    """``client.keys``: create, list, read, update, revoke, rotate and verify keys, and read their usage."""

    create = _sync(KeysCalls.create)
    list = _sync_list(KeysCalls.list)
    get = _sync(KeysCalls.get)
    update = _sync(KeysCalls.update)
    revoke = _sync(KeysCalls.revoke)
    rotate = _sync(KeysCalls.rotate)
    verify = _sync(KeysCalls.verify)
    import_keys = _sync(KeysCalls.import_keys)
    usage = _sync(KeysCalls.usage)


class AuditLogs(SyncResource):
    """``client.audit_logs``: read the audit log."""

    list = _sync_list(AuditLogsCalls.list)


class Users(SyncResource):
    """``client.users``: people's accounts (create, list, read, update, delete, unlock) and your own
    (``me``, ``change_password``, second factors). Managing others needs an administrator (role ``admin``, or
    a key with the scope ``admin``); anyone reads their own account and changes their own password."""

    create = _sync(UsersCalls.create)
    list = _sync_list(UsersCalls.list)
    get = _sync(UsersCalls.get)
    me = _sync(UsersCalls.me)
    update = _sync(UsersCalls.update)
    delete = _sync(UsersCalls.delete)
    unlock = _sync(UsersCalls.unlock)
    change_password = _sync(UsersCalls.change_password)
    enrol_totp = _sync(UsersCalls.enrol_totp)
    confirm_totp = _sync(UsersCalls.confirm_totp)
    regenerate_recovery_codes = _sync(UsersCalls.regenerate_recovery_codes)
    disable_totp = _sync(UsersCalls.disable_totp)
    reset_mfa = _sync(UsersCalls.reset_mfa)


class Sessions(SyncResource):
    """``client.sessions``: the sessions (one per login) of the person calling, or anyone's for an
    administrator, and ending one."""

    list = _sync_list(SessionsCalls.list)
    revoke = _sync(SessionsCalls.revoke)


class Auth(SyncResource):
    """``client.auth``: logging in, refreshing, logging out, revoking (RFC 7009) and introspecting (RFC 7662)
    tokens, and the public key set (JWKS) that verifies access tokens."""

    login = _sync(AuthCalls.login)
    complete_mfa = _sync(AuthCalls.complete_mfa)
    logout = _sync(AuthCalls.logout)
    revoke = _sync(AuthCalls.revoke)
    introspect = _sync(AuthCalls.introspect)
    jwks = _sync(AuthCalls.jwks)
    metadata = _sync(AuthCalls.metadata)

    def refresh(self, refresh_token: Optional[str] = None) -> TokenPair:
        return self._client._refresh(refresh_token)

    refresh.__doc__ = _REFRESH_DOC


class Groups(SyncResource):
    """``client.groups``: groups of users and of other groups (create, list, read, update, delete) and their
    direct members. Needs ``authz:manage`` (``admin`` includes it)."""

    create = _sync(GroupsCalls.create)
    list = _sync_list(GroupsCalls.list)
    get = _sync(GroupsCalls.get)
    update = _sync(GroupsCalls.update)
    delete = _sync(GroupsCalls.delete)
    members = _sync_list(GroupsCalls.members)
    add_member = _sync(GroupsCalls.add_member)
    remove_member = _sync(GroupsCalls.remove_member)


class ACLEntries(SyncResource):
    """``client.acl_entries``: allow and deny entries on resources (``acl``), and defaults for their
    descendants (``dacl``). Needs ``authz:manage`` (``admin`` includes it)."""

    create = _sync(ACLEntriesCalls.create)
    list = _sync_list(ACLEntriesCalls.list)
    get = _sync(ACLEntriesCalls.get)
    delete = _sync(ACLEntriesCalls.delete)


class Authz(SyncResource):
    """``client.authz``: may this principal do this action on this resource? Needs ``authz:check``
    (``admin`` includes it): give the key of a resource server only that scope."""

    check = _sync(AuthzCalls.check)
    check_batch = _sync(AuthzCalls.check_batch)


# -- the asynchronous API: the same methods, awaited ----------------------------------------------------


class AsyncKeys(AsyncResource):
    """``client.keys`` of an :class:`AsyncClient`: the methods of :class:`Keys`, as coroutines
    (``list`` returns an :class:`AsyncPaginator`)."""

    create = _async(KeysCalls.create)
    list = _async_list(KeysCalls.list)
    get = _async(KeysCalls.get)
    update = _async(KeysCalls.update)
    revoke = _async(KeysCalls.revoke)
    rotate = _async(KeysCalls.rotate)
    verify = _async(KeysCalls.verify)
    import_keys = _async(KeysCalls.import_keys)
    usage = _async(KeysCalls.usage)


class AsyncAuditLogs(AsyncResource):
    """``client.audit_logs`` of an :class:`AsyncClient` (``list`` returns an :class:`AsyncPaginator`)."""

    list = _async_list(AuditLogsCalls.list)


class AsyncUsers(AsyncResource):
    """``client.users`` of an :class:`AsyncClient`: the methods of :class:`Users`, as coroutines."""

    create = _async(UsersCalls.create)
    list = _async_list(UsersCalls.list)
    get = _async(UsersCalls.get)
    me = _async(UsersCalls.me)
    update = _async(UsersCalls.update)
    delete = _async(UsersCalls.delete)
    unlock = _async(UsersCalls.unlock)
    change_password = _async(UsersCalls.change_password)
    enrol_totp = _async(UsersCalls.enrol_totp)
    confirm_totp = _async(UsersCalls.confirm_totp)
    regenerate_recovery_codes = _async(UsersCalls.regenerate_recovery_codes)
    disable_totp = _async(UsersCalls.disable_totp)
    reset_mfa = _async(UsersCalls.reset_mfa)


class AsyncSessions(AsyncResource):
    """``client.sessions`` of an :class:`AsyncClient`: the methods of :class:`Sessions`, as coroutines."""

    list = _async_list(SessionsCalls.list)
    revoke = _async(SessionsCalls.revoke)


class AsyncAuth(AsyncResource):
    """``client.auth`` of an :class:`AsyncClient`: the methods of :class:`Auth`, as coroutines."""

    login = _async(AuthCalls.login)
    complete_mfa = _async(AuthCalls.complete_mfa)
    logout = _async(AuthCalls.logout)
    revoke = _async(AuthCalls.revoke)
    introspect = _async(AuthCalls.introspect)
    jwks = _async(AuthCalls.jwks)
    metadata = _async(AuthCalls.metadata)

    async def refresh(self, refresh_token: Optional[str] = None) -> TokenPair:
        return await self._client._refresh(refresh_token)

    refresh.__doc__ = _REFRESH_DOC


class AsyncGroups(AsyncResource):
    """``client.groups`` of an :class:`AsyncClient`: the methods of :class:`Groups`, as coroutines."""

    create = _async(GroupsCalls.create)
    list = _async_list(GroupsCalls.list)
    get = _async(GroupsCalls.get)
    update = _async(GroupsCalls.update)
    delete = _async(GroupsCalls.delete)
    members = _async_list(GroupsCalls.members)
    add_member = _async(GroupsCalls.add_member)
    remove_member = _async(GroupsCalls.remove_member)


class AsyncACLEntries(AsyncResource):
    """``client.acl_entries`` of an :class:`AsyncClient`: the methods of :class:`ACLEntries`, as coroutines."""

    create = _async(ACLEntriesCalls.create)
    list = _async_list(ACLEntriesCalls.list)
    get = _async(ACLEntriesCalls.get)
    delete = _async(ACLEntriesCalls.delete)


class AsyncAuthz(AsyncResource):
    """``client.authz`` of an :class:`AsyncClient`: the methods of :class:`Authz`, as coroutines."""

    check = _async(AuthzCalls.check)
    check_batch = _async(AuthzCalls.check_batch)
