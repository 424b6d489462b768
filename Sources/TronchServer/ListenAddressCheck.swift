import NIOCore
import NIOPosix

/// Checks, before anything irreversible happens at start-up, that the server will be able to listen.
///
/// The first start on an empty database creates the root key and prints it once; if the server then failed to
/// bind (the port taken by another process), that key would be lost with the output of a failed start while
/// the database keeps it, and the next start would create none. Binding once, the way the server binds, and
/// closing again turns "port in use" into an error before the key exists. Port 0 (any free port) cannot fail.
enum ListenAddressCheck {
    static func ensureAvailable(host: String, port: Int) async throws {
        guard port != 0 else { return }
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
        } catch {
            throw ConfigurationError(key: "TRONCH_PORT", "cannot listen on \(host):\(port): \(error)")
        }
        try await channel.close()
    }
}
