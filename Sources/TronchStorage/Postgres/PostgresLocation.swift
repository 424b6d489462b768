import Foundation
import NIOSSL
package import PostgresNIO

/// A `postgres://` URL turned into a client configuration.
///
/// `postgres://user:password@host:port/database?sslmode=…&schema=…`: `sslmode` follows libpq (`disable`,
/// `allow`/`prefer` (the default), `require`, `verify-ca`, `verify-full`); `schema` sets the `search_path`
/// so that one database can hold several Tronch installations (the tests use it for isolation).
package struct PostgresLocation: Sendable {
    package var configuration: PostgresClient.Configuration
    package var schema: String?

    package init(url: String) throws(StorageError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else { throw .unsupportedURL("database.url is not a postgres:// URL") }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        let port = components.port ?? 5432
        let user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        let password = components.password.flatMap { $0.removingPercentEncoding }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { $1 }
        )
        let tls: PostgresClient.Configuration.TLS
        switch query["sslmode"] ?? "prefer" {
        case "disable":
            tls = .disable
        case "allow", "prefer":
            tls = .prefer(Self.unverified)
        case "require":
            tls = .require(Self.unverified)
        case "verify-ca":
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .noHostnameVerification
            tls = .require(configuration)
        case "verify-full":
            tls = .require(.makeClientConfiguration())
        case let other:
            throw .unsupportedURL("sslmode '\(other)' is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
        configuration = PostgresClient.Configuration(
            host: host,
            port: port,
            username: user,
            password: password,
            database: database.isEmpty ? nil : database,
            tls: tls
        )
        if let schema = query["schema"], !schema.isEmpty {
            guard schema.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (97...122).contains($0) || (48...57).contains($0) }) else {
                throw .unsupportedURL("schema must be lowercase letters, digits and _")
            }
            self.schema = schema
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
    }

    /// libpq's `prefer` and `require` encrypt without checking the certificate.
    private static var unverified: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return configuration
    }
}
