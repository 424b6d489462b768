import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
package import TronchStorage

/// The throwaway PostgreSQL that `scripts/test` starts, and fresh schemas in it so tests never share tables.
package enum TestPostgres {
    /// Set by `scripts/test` (`postgres://tronch@127.0.0.1:PORT/postgres?sslmode=disable`).
    package static var url: String? {
        ProcessInfo.processInfo.environment["TRONCH_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether the run must include PostgreSQL (`scripts/test` sets it, so CI can never silently skip it).
    package static var isRequired: Bool { ProcessInfo.processInfo.environment["TRONCH_TEST_REQUIRE_POSTGRES"] == "1" }

    /// A URL whose `schema` is new and empty.
    package static func freshSchemaURL(base: String? = nil) async throws -> String {
        guard let base = base ?? url else { throw TestPostgresError.notConfigured }
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await execute("CREATE SCHEMA \(schema)", on: base)
        return base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
    }

    /// Runs one statement on a short-lived connection.
    package static func execute(_ sql: String, on url: String) async throws {
        let location = try PostgresLocation(url: url)
        let client = PostgresClient(configuration: location.configuration, backgroundLogger: Logger(label: "test-postgres"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.rows(PostgresQuery(unsafeSQL: sql))
        }
    }
}

package enum TestPostgresError: Error, CustomStringConvertible {
    case notConfigured

    package var description: String {
        "TRONCH_TEST_POSTGRES_URL is not set; run the tests with scripts/test, which starts PostgreSQL"
    }
}

/// A private PostgreSQL server a test may stop and start (for outage tests), via `scripts/postgres`.
package final class PostgresServer: Sendable {
    package let directory: String
    package let port: Int

    package init(port: Int) throws {
        self.port = port
        // Directly under /tmp: the server runs as the postgres user, which must be able to reach it.
        directory = "/tmp/tronch-pg-\(UUID().uuidString.prefix(8))"
    }

    package var url: String { "postgres://tronch@127.0.0.1:\(port)/postgres?sslmode=disable" }

    package func start() async throws { try await Script.run(Script.path("scripts/postgres"), ["start", directory, String(port)]) }
    package func stop() async throws { try await Script.run(Script.path("scripts/postgres"), ["stop", directory]) }

    deinit {
        // Never leave a server running after a test (without blocking: this may run on any thread).
        Script.runDetached(Script.path("scripts/postgres"), ["destroy", directory])
    }
}

extension TestPostgres {
    /// Runs `body` with a migrated store on `url` (a fresh schema's URL), its pool running.
    package static func withMigratedStore(_ url: String, _ body: @Sendable @escaping (any Store) async throws -> Void) async throws {
        let store = PostgresStore(
            location: try PostgresLocation(url: url),
            poolSize: 2,
            connectTimeout: .seconds(5),
            queryTimeout: .seconds(30),
            logger: Logger(label: "test-postgres")
        )
        try await StoreHandle(store: store, services: [store.client], backend: "postgresql").withServices { store in
            try await store.migrateUp(to: nil)
            try await body(store)
        }
    }
}
