import HTTPTypes
import Hummingbird
import TronchCore

/// `TRONCH_REQUIRE_HTTPS` behind a proxy: a request that did not come over HTTPS (as a trusted proxy's
/// `X-Forwarded-Proto` or `Forwarded` says; ``ClientAddressMiddleware`` runs first) is refused with 403
/// `HTTPS_REQUIRED`, or redirected (308, which keeps the method and body) to the same URL over HTTPS. Health
/// and readiness answer either way, so that load balancers that probe over plain HTTP keep working. The
/// refusal happens before authentication: a key sent over plain HTTP is already exposed, and the answer says
/// so without using it.
struct HTTPSRequirementMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let mode: EdgeSettings.HTTPSRequirement
    static let exempt: Set<String> = ["/api/v1/health", "/api/v1/health/ready"]

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard !context.isHTTPS, !Self.exempt.contains(request.uri.path) else { return try await next(request, context) }
        if mode == .redirect, let host = request.head.authority, Self.isHost(host) {
            let target = "https://" + host + request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return Response(status: .permanentRedirect, headers: [.location: target, .cacheControl: "no-store"])
        }
        throw APIError(.httpsRequired, "this server takes requests over HTTPS only; send this one to https://")
    }

    /// A host and port a redirect may name: letters, digits, `.-:[]` (IPv6 literals), nothing that could
    /// turn the redirect into another URL.
    static func isHost(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 255
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || ".-:[]".utf8.contains(byte)
            }
    }
}
