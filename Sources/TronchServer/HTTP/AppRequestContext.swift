import Foundation
package import Hummingbird
import Logging
import NIOCore
package import TronchCore

/// What a request carries through Tronch: its id, the authenticated principal, and the client's address.
package struct AppRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// From `X-Request-Id` when the client sent a sane one, otherwise generated; on every response and log line.
    package var requestID: String = ""
    /// Set by ``AuthenticationMiddleware``.
    package var principal: Principal?
    private let channel: (any Channel)?

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// Set by ``ClientAddressMiddleware`` when a trusted proxy forwarded the request.
    package var forwardedAddress: IPAddress?

    /// Set by ``ClientAddressMiddleware`` from a trusted proxy's `X-Forwarded-Proto`.
    package var forwardedHTTPS = false

    /// Whether the client's connection was HTTPS (as a trusted proxy in front said: Tronch itself serves HTTP).
    package var isHTTPS: Bool { forwardedHTTPS }

    /// The address of the connection's peer (a proxy's address when behind one).
    package var peerAddress: IPAddress? {
        guard let address = channel?.remoteAddress else { return nil }
        return IPAddress(address)
    }

    /// The client's address: from `X-Forwarded-For` behind a trusted proxy, otherwise the peer's.
    package var clientAddress: IPAddress? { forwardedAddress ?? peerAddress }

    /// Where the request came from, for the audit trail (the user agent capped: it is the client's text).
    package func origin(_ request: Request) -> RequestOrigin {
        RequestOrigin(
            requestID: requestID,
            clientIP: clientAddress?.description,
            userAgent: request.headers[.userAgent].map { String($0.prefix(256)) }
        )
    }

    /// The principal, or a 401 if the route was reached without authentication. What the route needs of it
    /// was checked by ``EndpointPermissionMiddleware``.
    @discardableResult
    package func requirePrincipal() throws(APIError) -> Principal {
        guard let principal else { throw APIError(.unauthenticated, "this route requires an API key") }
        return principal
    }

    /// The principal when it holds `permission`, otherwise a 403 naming the missing scope.
    @discardableResult
    package func require(_ permission: Permission) throws(APIError) -> Principal {
        let principal = try requirePrincipal()
        guard principal.allows(permission) else {
            throw APIError(.forbidden, "this route requires the scope \(permission.rawValue)")
        }
        return principal
    }
}
