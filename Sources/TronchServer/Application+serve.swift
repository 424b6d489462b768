package import Configuration
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Runs `tronch serve` until SIGTERM or SIGINT, then stops gracefully: no new connections, the requests in
/// flight answered, pending key uses and usage written. `TRONCH_SHUTDOWN_TIMEOUT` bounds that: past it what
/// is left is cancelled (and if even cancellation hangs, the process stops five seconds later), so that one
/// stuck connection or service can never hold a node past its orchestrator's grace period.
package func serve(reader: ConfigReader, options: BuildOptions = .init()) async throws {
    let settings = try Settings(reader: reader)
    let app = try await buildApplication(reader: reader, options: options)
    let notice = ShutdownNotice(timeout: settings.shutdownTimeout, logger: app.logger)
    var configuration = ServiceGroupConfiguration(
        // Stopped in reverse order: the notice first, then the application.
        services: [.init(service: app), .init(service: notice)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: app.logger
    )
    configuration.maximumGracefulShutdownDuration = settings.shutdownTimeout
    configuration.maximumCancellationDuration = .seconds(5)
    defer { notice.stopped() }
    try await ServiceGroup(configuration: configuration).run()
}

/// Says when a node begins to stop and when it has stopped, and whether it had to cut the stop short.
final class ShutdownNotice: Service, Sendable {
    let timeout: Duration
    let logger: Logger
    private let began = Mutex<ContinuousClock.Instant?>(nil)

    init(timeout: Duration, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func run() async {
        // Cancelled instead (start-up failed): there is nothing to stop.
        guard (try? await gracefulShutdown()) != nil else { return }
        began.withLock { $0 = .now }
        logger.notice(
            "stopping: finishing the requests in flight and writing pending key uses",
            metadata: ["timeout_seconds": "\(timeout.components.seconds)"]
        )
    }

    func stopped() {
        guard let began = began.withLock({ $0 }) else { return }
        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if elapsed >= timeout {
            logger.error(
                "did not finish stopping within TRONCH_SHUTDOWN_TIMEOUT; what was left was cancelled",
                metadata: ["timeout_seconds": "\(timeout.components.seconds)"]
            )
        }
        logger.notice("stopped", metadata: ["seconds": "\((seconds * 1000).rounded() / 1000)"])
    }
}
