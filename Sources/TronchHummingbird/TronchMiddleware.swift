import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
public import TronchClient

/// Lets a request through only with a Tronch credential that may use the route: a key (verified by Tronch)
/// or a person's access token (verified locally), in `Authorization: Bearer` or `X-API-Key`. The caller's
/// identity is then in `context.tronch`.
///
/// Refusals are RFC 9457 problems with Tronch's code: `401` (`UNAUTHENTICATED`, `TOKEN_INVALID`, or the key's
/// verification code), `403` `INSUFFICIENT_SCOPES`, `429` `RATE_LIMITED` or `USAGE_EXCEEDED` (with
/// `Retry-After`). When Tronch cannot be reached, `503`.
public struct TronchMiddleware<Context: TronchRequestContext>: RouterMiddleware {
    let authenticator: TronchAuthenticator
    let scopes: [String]

    /// - Parameter scopes: What the routes behind this middleware need, in Tronch's scope syntax.
    public init(_ authenticator: TronchAuthenticator, scopes: [String] = []) {
        self.authenticator = authenticator
        self.scopes = scopes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let credential = Self.credential(request.headers) else {
            return Self.problem(401, "UNAUTHENTICATED", "send a Tronch key or access token in Authorization: Bearer or X-API-Key")
        }
        let verdict: Result<TronchIdentity, TronchAuthenticator.Refusal>
        do {
            verdict = try await authenticator.authenticate(credential, scopes: scopes)
        } catch {
            context.logger.warning("could not reach Tronch to verify a key", metadata: ["error": "\(error)"])
            return Self.problem(503, "SERVICE_UNAVAILABLE", "the credential could not be checked; retry later")
        }
        switch verdict {
        case .success(let identity):
            var context = context
            context.tronch = identity
            return try await next(request, context)
        case .failure(let refusal):
            var response = Self.problem(refusal.status, refusal.code, Self.detail(refusal.code))
            if let wait = refusal.retryAfter { response.headers[.retryAfter] = String(max(1, wait)) }
            if refusal.status == 401 { response.headers[.wwwAuthenticate] = #"Bearer realm="api", error="invalid_token""# }
            return response
        }
    }

    static func credential(_ headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization], authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " {
            let value = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
            return value.isEmpty ? nil : value
        }
        if let name = HTTPField.Name("X-API-Key"), let key = headers[name], !key.isEmpty { return key }
        return nil
    }

    static func detail(_ code: String) -> String {
        switch code {
        case "INSUFFICIENT_SCOPES": "the credential lacks a scope this route needs"
        case "RATE_LIMITED": "the key is over its rate limit"
        case "USAGE_EXCEEDED": "the key has no credits left"
        case "TOKEN_INVALID": "the access token was refused"
        default: "the key was refused (\(code))"
        }
    }

    struct Problem: Encodable {
        var type: String
        var title: String
        var status: Int
        var code: String
        var detail: String
    }

    static func problem(_ status: Int, _ code: String, _ detail: String) -> Response {
        let problem = Problem(
            type: "urn:tronch:problem:" + code.lowercased().replacingOccurrences(of: "_", with: "-"),
            title: HTTPResponse.Status(code: status).reasonPhrase,
            status: status,
            code: code,
            detail: detail
        )
        let body = (try? JSONEncoder().encode(problem)) ?? Data()
        return Response(
            status: .init(code: status),
            headers: [.contentType: "application/problem+json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}
