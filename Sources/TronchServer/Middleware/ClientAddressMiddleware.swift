import Foundation
import HTTPTypes
import Hummingbird
import TronchCore

/// Finds the client's address, and whether it used HTTPS, behind trusted proxies (`TRONCH_HTTP_TRUSTED_PROXIES`).
///
/// When the connection comes from a trusted proxy, `X-Forwarded-For` is read from the right: the first
/// address that is not itself a trusted proxy is the client (the leftmost hop when every hop is trusted);
/// addresses a client wrote into the header sit to its left and are never reached. From any other peer,
/// without the header, or when a hop read before the client does not parse, the peer's address is kept, so a
/// client cannot choose its own address (for allowlists, the failed-authentication limit and the audit log).
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let trusted: [CIDR]
    /// `Strict-Transport-Security` for answers to requests that came over HTTPS; nil when HSTS is off.
    var strictTransportSecurity: HTTPField?

    func handle(
        _ request: Request, context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let peer = context.peerAddress, isTrusted(peer) else { return try await next(request, context) }
        var context = context
        if let header = request.headers[.xForwardedFor] {
            context.forwardedAddress = Self.client(in: header, peer: peer, isTrusted: isTrusted)
        }
        // The proxy nearest to the client wrote the first value: whether the client's connection was TLS.
        if let proto = request.headers[.xForwardedProto], let first = proto.split(separator: ",").first {
            context.forwardedHTTPS = first.trimmingCharacters(in: .whitespaces).lowercased() == "https"
        }
        var response = try await next(request, context)
        if context.forwardedHTTPS, let strictTransportSecurity { response.headers.append(strictTransportSecurity) }
        return response
    }

    private func isTrusted(_ address: IPAddress) -> Bool { trusted.contains { $0.contains(address) } }

    /// The rightmost address in `X-Forwarded-For` that is not a trusted proxy; the leftmost hop when all are
    /// trusted; nil when a hop read before the client does not parse (the caller then keeps the peer's).
    static func client(in header: String, peer: IPAddress, isTrusted: (IPAddress) -> Bool) -> IPAddress? {
        var client = peer
        for hop in header.split(separator: ",").reversed() {
            guard let address = IPAddress(hop.filter { $0 != " " }) else { return nil }
            client = address
            if !isTrusted(address) { break }
        }
        return client
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
