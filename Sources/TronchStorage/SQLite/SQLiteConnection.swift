import GRDB
import TronchTracing

/// The database GRDB opened, with a client span around each access when tracing is on, named by the store
/// method that asks (`sqlite key(digest:)`).
struct SQLiteConnection: Sendable {
    let base: any DatabaseWriter

    // Off, a store call goes straight to GRDB: no generic call into another module on the request path.
    func read<T: Sendable>(function: String = #function, _ value: @Sendable (Database) throws -> T) async throws -> T {
        guard ClientSpans.isEnabled else { return try await base.read(value) }
        return try await ClientSpans.measure(system: "sqlite", operation: function) { try await base.read(value) }
    }

    func write<T: Sendable>(function: String = #function, _ updates: @Sendable (Database) throws -> T) async throws -> T {
        guard ClientSpans.isEnabled else { return try await base.write(updates) }
        return try await ClientSpans.measure(system: "sqlite", operation: function) { try await base.write(updates) }
    }

    func vacuum(into path: String) async throws { try await base.vacuum(into: path) }
}
