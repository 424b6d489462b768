import Foundation
package import NIOSSL
import Synchronization

/// The server's certificate chain and private key (PEM files), as a TLS context that new connections take.
///
/// ``reload()`` reads the files again (on `SIGHUP`): connections opened after it use the new certificate,
/// connections already open keep theirs, and files that do not load leave the current context in place.
package final class TLSCertificates: Sendable {
    package let certificateFile: String
    package let keyFile: String
    private let context: Mutex<NIOSSLContext>

    package init(certificateFile: String, keyFile: String) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        context = Mutex(try Self.load(certificateFile: certificateFile, keyFile: keyFile))
    }

    /// The context a new connection uses.
    package var current: NIOSSLContext { context.withLock { $0 } }

    /// Loads the files again and swaps the context in; throws (keeping the old one) when they do not load.
    package func reload() throws {
        let fresh = try Self.load(certificateFile: certificateFile, keyFile: keyFile)
        context.withLock { $0 = fresh }
    }

    static func load(certificateFile: String, keyFile: String) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ConfigurationError(key: "TRONCH_TLS_CERT_FILE", "'\(certificateFile)' does not hold PEM certificates: \(error)")
        }
        guard !chain.isEmpty else { throw ConfigurationError(key: "TRONCH_TLS_CERT_FILE", "'\(certificateFile)' holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ConfigurationError(key: "TRONCH_TLS_KEY_FILE", "'\(keyFile)' does not hold a PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigurationError(key: "TRONCH_TLS_KEY_FILE", "the certificate and the key do not make a TLS context (do they match?): \(error)")
        }
    }
}
