import Foundation
package import Logging
package import PostgresNIO
import Synchronization
import TronchCore

/// The production store: PostgreSQL through postgres-nio's pooled `PostgresClient`, which the application
/// runs as a `Service`.
package struct PostgresStore: Sendable {
    package let client: PostgresClient
    let logger: Logger
    let schema: String?
    /// Every call is time-boxed: a database that stops answering must turn into a 503, not a hung request.
    let queryTimeout: Duration
    /// After a call finds the database unreachable, calls fail at once for a moment instead of each waiting
    /// out the time box; ``ping()`` always tries, so recovery is noticed at once.
    let circuit = Circuit(openFor: .milliseconds(500))

    package init(location: PostgresLocation, poolSize: Int, connectTimeout: Duration, queryTimeout: Duration, logger: Logger) {
        var configuration = location.configuration
        configuration.options.maximumConnections = max(1, poolSize)
        configuration.options.connectTimeout = connectTimeout
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.schema = location.schema
        self.queryTimeout = queryTimeout
    }

    /// Runs `body` with the time box, and turns connection failures into ``StorageError/unavailable(_:)``
    /// and unique violations into `CONFLICT`.
    @discardableResult
    func run<T: Sendable>(probe: Bool = false, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        if !probe, circuit.isOpen {
            throw StorageError.unavailable("PostgreSQL was unreachable moments ago")
        }
        do {
            let result = try await timeBoxed(body)
            circuit.close()
            return result
        } catch {
            let translated = Self.translate(error)
            if case StorageError.unavailable = translated { circuit.open() }
            throw translated
        }
    }

    private func timeBoxed<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: queryTimeout)
                throw StorageError.unavailable("no answer from PostgreSQL within \(queryTimeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// The error a caller should see: a transaction's own failure unwrapped, PostgreSQL's mapped.
    static func translate(_ error: any Error) -> any Error {
        switch error {
        case let error as PostgresTransactionError:
            // The closure's error (a DomainError that aborts an update) wins over begin/commit errors.
            guard let inner = error.closureError ?? error.beginError ?? error.commitError else { return error }
            return translate(inner)
        case let error as PSQLError:
            return translate(error)
        default:
            return error
        }
    }

    static func translate(_ error: PSQLError) -> any Error {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            if state == "23505" { return DomainError(.conflict, "a key with this id or secret already exists") }
            // Class 08 (connection), 57P0x (shutdown, cannot connect now), 53 (insufficient resources).
            if state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") {
                return StorageError.unavailable("PostgreSQL refused the request (SQLSTATE \(state))")
            }
            return error
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
            .sslUnsupported, .failedToAddSSLHandler:
            return StorageError.unavailable("cannot reach PostgreSQL (\(error.code))")
        default:
            return error
        }
    }

    /// One round trip, for readiness checks and start-up.
    package func ping() async throws {
        try await run(probe: true) { try await client.rows("SELECT 1", logger: logger) }
    }
}

extension PostgresStore: DatabaseHealth {}

extension PostgresStore: SettingsStore {
    package func claimSetting(_ name: String, value: String) async throws -> String {
        try await run {
            try await client.rows(
                "INSERT INTO tronch_settings (name, value) VALUES (\(name), \(value)) ON CONFLICT (name) DO NOTHING",
                logger: logger
            )
            return try await self.settingValue(name) ?? value
        }
    }

    package func setting(_ name: String) async throws -> String? {
        try await run {
            let exists = try await client.rows("SELECT to_regclass('tronch_settings') IS NOT NULL", logger: logger)
                .first?.decode(Bool.self) ?? false
            return exists ? try await self.settingValue(name) : nil
        }
    }

    private func settingValue(_ name: String) async throws -> String? {
        try await client.rows("SELECT value FROM tronch_settings WHERE name = \(name)", logger: logger)
            .first?.decode(String.self)
    }
}

/// Remembers the last time the database was found unreachable.
final class Circuit: Sendable {
    private let openedAt = Mutex<ContinuousClock.Instant?>(nil)
    private let openFor: Duration

    init(openFor: Duration) { self.openFor = openFor }

    var isOpen: Bool {
        openedAt.withLock { opened in opened.map { ContinuousClock.now - $0 < openFor } ?? false }
    }

    func open() { openedAt.withLock { $0 = ContinuousClock.now } }
    func close() { openedAt.withLock { $0 = nil } }
}
