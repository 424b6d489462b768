import HTTPTypes
import Hummingbird

/// Cross-origin requests from browsers (``CORSPolicy``): a preflight from an allowed origin is answered here,
/// 204 with what may be sent; an actual request's answer says which origin may read it. An origin that is
/// not allowed gets no CORS header at all, so the browser keeps the answer from the page. The gateway check
/// (`/api/v1/auth/check`) is left alone: the request it judges is the client's, not a browser's call to Tronch.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let policy: CORSPolicy
    private let methods: String
    private let headers: String
    private let exposed: String

    init(policy: CORSPolicy) {
        self.policy = policy
        methods = policy.methods.joined(separator: ", ")
        headers = policy.headers.joined(separator: ", ")
        exposed = policy.exposedHeaders.joined(separator: ", ")
    }

    static let gatewayCheck = "/api/v1/auth/check"

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let origin = request.headers[.origin], !request.uri.path.hasPrefix(Self.gatewayCheck) else {
            return try await next(request, context)
        }
        guard policy.allows(origin: origin) else {
            var response = try await next(request, context)
            response.headers[values: .vary].append("Origin")
            return response
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var response = Response(status: .noContent)
            allowOrigin(origin, in: &response.headers)
            response.headers[.accessControlAllowMethods] = methods
            response.headers[.accessControlAllowHeaders] = headers
            response.headers[.accessControlMaxAge] = String(policy.maxAge)
            response.headers[values: .vary].append(contentsOf: ["Access-Control-Request-Method", "Access-Control-Request-Headers"])
            return response
        }
        var response = try await next(request, context)
        allowOrigin(origin, in: &response.headers)
        if !exposed.isEmpty { response.headers[.accessControlExposeHeaders] = exposed }
        return response
    }

    private func allowOrigin(_ origin: String, in headers: inout HTTPFields) {
        // `*` only for a wildcard policy without credentials; otherwise the origin itself, and caches must
        // know the answer depends on it.
        if policy.allowsAnyOrigin && !policy.allowsCredentials {
            headers[.accessControlAllowOrigin] = "*"
        } else {
            headers[.accessControlAllowOrigin] = origin
        }
        headers[values: .vary].append("Origin")
        if policy.allowsCredentials { headers[.accessControlAllowCredentials] = "true" }
    }
}
