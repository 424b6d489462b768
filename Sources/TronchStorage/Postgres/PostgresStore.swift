import Foundation
package import Logging
package import PostgresNIO
import Synchronization
import TronchCore
import TronchTracing

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
    let circuit = Circuit(retryAfter: .seconds(1))

    package init(location: PostgresLocation, poolSize: Int, connectTimeout: Duration, queryTimeout: Duration, logger: Logger) {
        var configuration = location.configuration
        configuration.options.maximumConnections = max(1, poolSize)
        configuration.options.connectTimeout = connectTimeout
        // The pool logs every failed connection attempt at info; during an outage that is one line per try.
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .warning)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger)
        self.logger = logger
        self.schema = location.schema
        self.queryTimeout = queryTimeout
    }

    /// Runs `body` with the time box, and turns connection failures into ``StorageError/unavailable(_:)``
    /// and unique violations into `CONFLICT`.
    @discardableResult
    func run<T: Sendable>(
        probe: Bool = false,
        timeout: Duration? = nil,
        function: String = #function,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        if !probe, !circuit.mayAttempt() {
            throw StorageError.unavailable("PostgreSQL was unreachable moments ago")
        }
        do {
            let result =
                ClientSpans.isEnabled
                ? try await ClientSpans.measure(system: "postgresql", operation: function) { try await timeBoxed(timeout ?? queryTimeout, body) }
                : try await timeBoxed(timeout ?? queryTimeout, body)
            circuit.close()
            return result
        } catch {
            let translated = Self.translate(error)
            if case StorageError.unavailable = translated { circuit.open() } else { circuit.close() }
            throw translated
        }
    }

    private func timeBoxed<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Deadline.run(within: limit, timedOut: { StorageError.unavailable("no answer from PostgreSQL within \(limit)") }, body)
    }

    /// The error a caller should see: a transaction's own failure unwrapped, PostgreSQL's mapped.
    static func translate(_ error: any Error) -> any Error {
        switch error {
        case let error as PostgresTransactionError:
            // The closure's error (a DomainError that aborts an update) wins over begin/commit errors.
            guard let inner = error.closureError ?? error.beginError ?? error.commitError else { return error }
            // An error the caller's own closure threw (to abort a change) is the caller's, not the database's.
            if let closure = error.closureError, !(closure is PSQLError) { return closure }
            return translate(inner)
        case let error as PSQLError:
            return translate(error)
        case is DomainError, is StorageError, is CancellationError, is PostgresDecodingError:
            return error
        default:
            // The pool's own failures (for example its circuit breaker after a long outage) mean the same
            // as a refused connection: the database cannot be reached.
            return StorageError.unavailable("cannot reach PostgreSQL (\(type(of: error)))")
        }
    }

    static func translate(_ error: PSQLError) -> any Error {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = error.serverInfo?[.message] ?? ""
            if state == "23505" {
                switch error.serverInfo?[.constraintName] {
                case "users_username": return DomainError.userConflict("username")
                case "users_email": return DomainError.userConflict("email")
                case "users_pkey": return DomainError(.conflict, "a user with this id already exists")
                case "groups_name": return DomainError.groupNameTaken
                case "acl_entries_rule": return DomainError.duplicateEntry
                default: return DomainError(.conflict, "a key with this id or secret already exists")
                }
            }
            // Class 08 (connection), 57P0x (shutdown, cannot connect now), 53 (insufficient resources).
            if state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") {
                return StorageError.unavailable("PostgreSQL refused the request (SQLSTATE \(state))")
            }
            // 28 (authorisation), 3D000 (no such database), 42501 (insufficient privilege): a setting to fix.
            if state.hasPrefix("28") || state == "3D000" || state == "42501" || state == "3F000" {
                return StorageError.misconfigured("\(message) (SQLSTATE \(state))")
            }
            return StorageError.database("\(message) (SQLSTATE \(state))")
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return StorageError.unavailable("cannot reach PostgreSQL (\(error.code))")
        case .sslUnsupported, .failedToAddSSLHandler, .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return StorageError.misconfigured("\(error.code); check sslmode and the credentials in the database URL")
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
            let exists =
                try await client.rows("SELECT to_regclass('tronch_settings') IS NOT NULL", logger: logger)
                .first?.decode(Bool.self) ?? false
            return exists ? try await self.settingValue(name) : nil
        }
    }

    private func settingValue(_ name: String) async throws -> String? {
        try await client.rows("SELECT value FROM tronch_settings WHERE name = \(name)", logger: logger)
            .first?.decode(String.self)
    }
}

/// A circuit breaker: after the database is found unreachable, calls fail at once; once `retryAfter` has
/// passed, one call at a time is let through to test it, and a success closes the circuit.
final class Circuit: Sendable {
    private struct State {
        var openedAt: ContinuousClock.Instant?
        var trialRunning = false
    }

    private let state = Mutex(State())
    private let retryAfter: Duration

    init(retryAfter: Duration) { self.retryAfter = retryAfter }

    /// Whether a call may go to the database now; a `true` while open makes that call the trial.
    func mayAttempt() -> Bool {
        state.withLock { state in
            guard let openedAt = state.openedAt else { return true }
            guard !state.trialRunning, ContinuousClock.now - openedAt >= retryAfter else { return false }
            state.trialRunning = true
            return true
        }
    }

    func open() { state.withLock { $0 = State(openedAt: ContinuousClock.now, trialRunning: false) } }
    func close() { state.withLock { $0 = State() } }
}
