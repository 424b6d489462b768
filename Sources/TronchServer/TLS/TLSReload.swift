import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the TLS certificate and key on `SIGHUP` (certbot's and most renewal tools' convention), so a
/// renewed certificate needs no restart and drops no connection.
struct TLSReload: Service {
    let certificates: TLSCertificates
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            do {
                try certificates.reload()
                logger.notice("reloaded the TLS certificate", metadata: ["file": "\(certificates.certificateFile)"])
            } catch {
                logger.error("the TLS certificate did not reload; the previous one stays in use", metadata: ["error": "\(error)"])
            }
        }
    }
}
