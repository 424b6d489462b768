import Hummingbird
import TronchCore
import TronchRateLimit

/// Limits each caller's calls on Tronch's own API (``RateLimits/apiCall(by:)``): a key's own policies, or
/// `TRONCH_RATELIMIT_API` per key or per person. An answer within the limit carries the `RateLimit` headers
/// (unless the route answered with its own, stricter ones, such as key creation's); one over it is 429 with
/// `Retry-After`. Verification and permission checks are left out: they are your API's traffic, limited by
/// the keys they check, and they must keep up with it.
struct APIRateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let rateLimits: RateLimits

    static let exempt: Set<String> = ["/api/v1/keys/verify", "/api/v1/authz/check", "/api/v1/authz/check-batch", "/api/v1/auth/introspect"]

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let principal = context.principal, !Self.exempt.contains(context.endpointPath ?? ""),
            let decision = try await rateLimits.apiCall(by: principal)
        else { return try await next(request, context) }
        guard decision.allowed else { throw APIError.rateLimited(decision, "too many requests on Tronch's API from this caller") }
        var response = try await next(request, context)
        if response.headers[.rateLimitPolicy] == nil { response.headers.append(contentsOf: decision.headers) }
        return response
    }
}
