"""Python client for Tronch, the self-hostable API key and authentication service.

    from tronch import Client, MFARequiredError

    with Client("http://127.0.0.1:8080", api_key=os.environ["TRONCH_API_KEY"]) as tronch:
        created = tronch.keys.create(name="Acme production", owner_id="cus_123", scopes=["orders:read"])
        verdict = tronch.keys.verify(created.key, scopes=["orders:read"])
        assert verdict.valid

    with Client("http://127.0.0.1:8080") as tronch:
        try:
            tronch.login("alice", password=os.environ["PASSWORD"])   # sends Alice's access token from now on
        except MFARequiredError as challenge:                        # Alice has a second factor
            tronch.complete_mfa(challenge, code=input("code: "))
        print(tronch.users.me().role)

    with Client("http://127.0.0.1:8080", api_key=os.environ["TRONCH_API_KEY"]) as tronch:
        if tronch.authz.check("user:01a2…", "deploy", "project:acme/web"):   # a Decision: allowed, rule, entry_id
            ...

    # A key that signs its requests (docs/signed-requests.md): the customer signs, your API verifies.
    httpx.Client(auth=SigningAuth(created.key, created.signing_secret))    # or sign_request(method, url, body, ...)
    verdict = tronch.keys.verify(key, request=signed_request_from(method, url, headers, body))

    async with AsyncClient("http://127.0.0.1:8080", api_key=os.environ["TRONCH_API_KEY"]) as tronch:
        created = await tronch.keys.create(name="Acme production")          # the same methods, awaited
        async for key in tronch.keys.list(owner_id="cus_123"):              # lists page with `async for`
            ...
"""

from ._async_client import AsyncClient
from ._client import DEFAULT_BASE_URL, Client
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    FieldError,
    InvalidCredentialsError,
    MFAEnrollmentRequiredError,
    MFAInvalidError,
    MFARequiredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RefreshTokenReusedError,
    ServiceUnavailableError,
    SessionRevokedError,
    TokenInvalidError,
    TronchError,
    ValidationError,
)
from ._models import (
    ACLEntry,
    AuditActor,
    AuditEntry,
    AuditTarget,
    CreatedKey,
    Decision,
    DecisionRule,
    Group,
    GroupMember,
    Introspection,
    Key,
    KeyUsage,
    LatencyPercentiles,
    Page,
    RateLimitPolicy,
    RateLimitState,
    RecoveryCodes,
    Refill,
    Session,
    TokenPair,
    TOTPEnrolment,
    UsageBucket,
    UsageTotals,
    User,
    Verification,
    VerificationCode,
)
from ._resources import (
    MAX_BATCH_CHECKS,
    NOT_GIVEN,
    ACLEntries,
    AsyncACLEntries,
    AsyncAuditLogs,
    AsyncAuth,
    AsyncAuthz,
    AsyncGroups,
    AsyncKeys,
    AsyncPaginator,
    AsyncSessions,
    AsyncUsers,
    AuditLogs,
    Auth,
    Authz,
    CheckInput,
    Groups,
    Keys,
    NotGiven,
    Paginator,
    PrincipalInput,
    Sessions,
    Users,
)
from ._signing import (
    SIGNED_COMPONENTS,
    SignedRequestInfo,
    SigningAuth,
    body_sha256,
    content_digest,
    sign_request,
    signature_base,
    signed_request_from,
)
from ._version import __version__

__all__ = [
    "__version__",
    "Client",
    "AsyncClient",
    "DEFAULT_BASE_URL",
    "Keys",
    "AuditLogs",
    "Users",
    "Sessions",
    "Auth",
    "Groups",
    "ACLEntries",
    "Authz",
    "MAX_BATCH_CHECKS",
    "PrincipalInput",
    "CheckInput",
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
    "Page",
    "NOT_GIVEN",
    "NotGiven",
    # signed requests
    "sign_request",
    "SigningAuth",
    "signed_request_from",
    "SignedRequestInfo",
    "SIGNED_COMPONENTS",
    "body_sha256",
    "content_digest",
    "signature_base",
    # models
    "Key",
    "CreatedKey",
    "Verification",
    "VerificationCode",
    "RateLimitPolicy",
    "RateLimitState",
    "Refill",
    "KeyUsage",
    "UsageBucket",
    "UsageTotals",
    "LatencyPercentiles",
    "AuditEntry",
    "AuditActor",
    "AuditTarget",
    "TokenPair",
    "Introspection",
    "User",
    "Session",
    "TOTPEnrolment",
    "RecoveryCodes",
    "Group",
    "GroupMember",
    "ACLEntry",
    "Decision",
    "DecisionRule",
    # errors
    "TronchError",
    "APIConnectionError",
    "APITimeoutError",
    "ValidationError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "ServiceUnavailableError",
    "InvalidCredentialsError",
    "TokenInvalidError",
    "SessionRevokedError",
    "RefreshTokenReusedError",
    "MFARequiredError",
    "MFAInvalidError",
    "MFAEnrollmentRequiredError",
    "FieldError",
]
