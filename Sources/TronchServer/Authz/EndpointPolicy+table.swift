import HTTPTypes
package import TronchCore

extension EndpointPolicy {
    /// What every route of Tronch's own API needs, as the OpenAPI document's `x-tronch-permission` states it
    /// (a test holds the two equal). A route behind authentication that is missing here is refused.
    ///
    /// `self` routes act on the caller's own account or sessions; `self or users:manage` ones also reach
    /// someone else's with the permission, which the route checks against its target.
    static let table: [(route: String, requirement: EndpointRequirement)] =
        [
            ("GET /api/v1/health", .open),
            ("GET /api/v1/health/ready", .open),
            ("GET /api/v1/openapi.json", .open),
            ("GET /api/v1/metrics", .permission(.metricsRead)),
            ("GET /.well-known/jwks.json", .open),
            ("GET /.well-known/oauth-authorization-server", .open),
        ] + ForwardAuthController.methods.map { ("\($0.rawValue) /api/v1/auth/check", .open) } + [
            // Keys
            ("POST /api/v1/keys", .permission(.keysWrite)),
            ("GET /api/v1/keys", .permission(.keysRead)),
            ("POST /api/v1/keys/import", .permission(.keysWrite)),
            ("POST /api/v1/keys/verify", .permission(.keysVerify)),
            ("GET /api/v1/keys/{id}", .permission(.keysRead)),
            ("PATCH /api/v1/keys/{id}", .permission(.keysWrite)),
            ("DELETE /api/v1/keys/{id}", .permission(.keysWrite)),
            ("POST /api/v1/keys/{id}/rotate", .permission(.keysWrite)),
            ("GET /api/v1/keys/{id}/usage", .permission(.keysRead)),
            ("GET /api/v1/audit-logs", .permission(.auditRead)),
            // People
            ("POST /api/v1/users", .permission(.usersManage)),
            ("GET /api/v1/users", .permission(.usersManage)),
            ("GET /api/v1/users/me", .authenticated),
            ("POST /api/v1/users/me/password", .authenticated),
            ("POST /api/v1/users/me/mfa/totp", .authenticated),
            ("DELETE /api/v1/users/me/mfa/totp", .authenticated),
            ("POST /api/v1/users/me/mfa/totp/confirm", .authenticated),
            ("POST /api/v1/users/me/mfa/recovery-codes", .authenticated),
            ("GET /api/v1/users/{id}", .selfOr(.usersManage)),
            ("PATCH /api/v1/users/{id}", .selfOr(.usersManage)),
            ("DELETE /api/v1/users/{id}", .permission(.usersManage)),
            ("POST /api/v1/users/{id}/unlock", .permission(.usersManage)),
            ("DELETE /api/v1/users/{id}/mfa", .permission(.usersManage)),
            // Tokens and sessions
            ("POST /api/v1/auth/login", .open),
            ("POST /api/v1/auth/mfa", .open),
            ("POST /api/v1/auth/refresh", .open),
            ("POST /api/v1/auth/revoke", .open),
            ("POST /api/v1/auth/logout", .authenticated),
            ("POST /api/v1/auth/introspect", .permission(.tokensIntrospect)),
            ("GET /api/v1/sessions", .selfOr(.usersManage)),
            // Webhooks
            ("POST /api/v1/webhooks", .admin),
            ("GET /api/v1/webhooks", .admin),
            ("GET /api/v1/webhooks/{id}", .admin),
            ("PATCH /api/v1/webhooks/{id}", .admin),
            ("DELETE /api/v1/webhooks/{id}", .admin),
            ("GET /api/v1/webhooks/{id}/deliveries", .admin),
            ("POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", .admin),
            ("DELETE /api/v1/sessions/{id}", .selfOr(.usersManage)),
            // Permissions
            ("POST /api/v1/groups", .permission(.authzManage)),
            ("GET /api/v1/groups", .permission(.authzManage)),
            ("GET /api/v1/groups/{id}", .permission(.authzManage)),
            ("PATCH /api/v1/groups/{id}", .permission(.authzManage)),
            ("DELETE /api/v1/groups/{id}", .permission(.authzManage)),
            ("GET /api/v1/groups/{id}/members", .permission(.authzManage)),
            ("PUT /api/v1/groups/{id}/members/{principal}", .permission(.authzManage)),
            ("DELETE /api/v1/groups/{id}/members/{principal}", .permission(.authzManage)),
            ("POST /api/v1/acl-entries", .permission(.authzManage)),
            ("GET /api/v1/acl-entries", .permission(.authzManage)),
            ("GET /api/v1/acl-entries/{id}", .permission(.authzManage)),
            ("DELETE /api/v1/acl-entries/{id}", .permission(.authzManage)),
            ("POST /api/v1/authz/check", .permission(.authzCheck)),
            ("POST /api/v1/authz/check-batch", .permission(.authzCheck)),
        ]

    /// The table with every rule enforced.
    package static let builtIn: EndpointPolicy = {
        do { return try EndpointPolicy(table: table) } catch { fatalError("the endpoint permission table is malformed: \(error)") }
    }()
}
