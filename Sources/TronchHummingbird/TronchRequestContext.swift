public import Hummingbird
public import TronchClient

/// A request context that carries the caller's identity, which ``TronchMiddleware`` sets.
public protocol TronchRequestContext: RequestContext {
    var tronch: TronchIdentity? { get set }
}

extension TronchRequestContext {
    /// The identity ``TronchMiddleware`` established; throws `401` when the route has no such middleware.
    public func requireTronchIdentity() throws -> TronchIdentity {
        guard let tronch else { throw HTTPError(.unauthorized, message: "no credential was checked for this route") }
        return tronch
    }
}
