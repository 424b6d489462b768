import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// A child channel that starts with TLS under the context ``TLSCertificates`` holds when the connection
/// opens, then runs the HTTP channel it wraps. Hummingbird's own TLS channel fixes its context at start-up;
/// taking it per connection is what lets a certificate be replaced without a restart.
struct ReloadingTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let certificates: TLSCertificates

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = certificates.current
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension ReloadingTLSChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 over TLS, with the certificate of ``TLSCertificates`` at each new connection.
    static func http1(tls certificates: TLSCertificates, configuration: HTTP1Channel.Configuration) -> HTTPServerBuilder {
        .init { responder in
            ReloadingTLSChannel(base: HTTP1Channel(responder: responder, configuration: configuration), certificates: certificates)
        }
    }
}
