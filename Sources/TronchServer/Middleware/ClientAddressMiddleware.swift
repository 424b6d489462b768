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
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let peer = context.peerAddress, isTrusted(peer) else { return try await next(request, context) }
        var context = context
        // X-Forwarded-* when present (what nginx, Traefik and Envoy send), else RFC 7239 `Forwarded`.
        let forwarded = request.headers[.xForwardedFor] == nil ? request.headers[.forwarded].map(Self.forwardedElements) : nil
        if let header = request.headers[.xForwardedFor] {
            context.forwardedAddress = Self.client(in: header, peer: peer, isTrusted: isTrusted)
        } else if let forwarded {
            let hops = forwarded.compactMap(\.for).joined(separator: ",")
            if !hops.isEmpty { context.forwardedAddress = Self.client(in: hops, peer: peer, isTrusted: isTrusted) }
        }
        // The proxy nearest to the client wrote the first value: whether the client's connection was TLS.
        if let proto = request.headers[.xForwardedProto], let first = proto.split(separator: ",").first {
            context.forwardedHTTPS = first.trimmingCharacters(in: .whitespaces).lowercased() == "https"
        } else if let proto = forwarded?.first?.proto {
            context.forwardedHTTPS = proto.lowercased() == "https"
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

extension ClientAddressMiddleware {
    /// The `for` and `proto` of each element of an RFC 7239 `Forwarded` header, in order. A `for` is
    /// reduced to its address (quotes, IPv6 brackets and a port removed; `unknown` and obfuscated names
    /// become an unparseable hop, which keeps the peer's address).
    static func forwardedElements(_ header: String) -> [(for: String?, proto: String?)] {
        header.split(separator: ",").map { element in
            var node: String?
            var proto: String?
            for pair in element.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                var value = parts[1]
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                switch parts[0].lowercased() {
                case "for":
                    if value.hasPrefix("["), let end = value.firstIndex(of: "]") {
                        node = String(value[value.index(after: value.startIndex)..<end])
                    } else {
                        node = value.split(separator: ":").count == 2 ? String(value.split(separator: ":")[0]) : value
                    }
                case "proto": proto = value
                default: continue
                }
            }
            return (node, proto)
        }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let forwarded = HTTPField.Name("Forwarded")!
}
