import Foundation
import Hummingbird
import Logging
import Metrics
import TronchCore

/// Enforces what each route of Tronch's own API needs of its caller (``EndpointPolicy``): the one place
/// a route's permission is checked, after ``AuthenticationMiddleware`` has found the caller.
///
/// In `enforce` mode a caller without the permission gets 403 (audited as a denial by the authentication
/// middleware around it). In `report-only` mode the request goes through and the refusal it would have had
/// is logged, counted in `tronch_endpoint_permission_refusals_total` and audited as `endpoint.would_refuse`.
/// In `off` mode nothing is checked here. A matched route the table does not declare is refused: a route
/// added without a rule must fail closed, never open.
struct EndpointPermissionMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let policy: EndpointPolicy
    let audit: @Sendable (AuditEvent) async throws -> Void
    let clock: WallClock
    /// One counter per route and mode, made once: nothing is allocated on a request.
    private let refusals: [String: Counter]

    init(policy: EndpointPolicy, clock: WallClock, audit: @escaping @Sendable (AuditEvent) async throws -> Void) {
        self.policy = policy
        self.clock = clock
        self.audit = audit
        var refusals = [String: Counter]()
        for rule in policy.all where rule.requirement != .open {
            for mode in [EnforcementMode.enforce, .reportOnly] {
                refusals["\(mode.rawValue) \(rule.route)"] = Counter(
                    label: "tronch_endpoint_permission_refusals_total",
                    dimensions: [("route", rule.route), ("mode", mode.rawValue)]
                )
            }
        }
        self.refusals = refusals
    }

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let rule = policy.rule(method: request.method.rawValue, path: context.endpointPath ?? "") else {
            context.logger.error(
                "a route without a declared permission was refused",
                metadata: ["method": "\(request.method)", "route": "\(context.endpointPath ?? "unmatched")"]
            )
            throw APIError(.forbidden, "this route declares no permission")
        }
        guard rule.mode != .off, let principal = context.principal, !rule.requirement.admits(principal) else {
            return try await next(request, context)
        }
        refusals["\(rule.mode.rawValue) \(rule.route)"]?.increment()
        if rule.mode == .enforce { throw APIError(.forbidden, rule.requirement.refusal) }
        context.logger.notice(
            "endpoint permission would refuse this request (report-only)",
            metadata: ["route": "\(rule.route)", "permission": "\(rule.requirement.name)", "principal": "\(principal.reference)"]
        )
        do {
            try await audit(
                AuditEvent(
                    time: clock.now,
                    actor: principal.auditActor,
                    action: AuditAction.endpointWouldRefuse,
                    outcome: .success,
                    origin: context.origin(request),
                    details: [
                        "method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? ""),
                        "permission": .string(rule.requirement.name), "mode": .string(rule.mode.rawValue),
                    ]
                )
            )
        } catch {
            context.logger.error("cannot write an audit entry", metadata: ["action": "\(AuditAction.endpointWouldRefuse)", "error": "\(error)"])
        }
        return try await next(request, context)
    }
}
