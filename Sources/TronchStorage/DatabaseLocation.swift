import Foundation

/// Where the database is, parsed from `database.url`.
package enum DatabaseLocation: Sendable, Hashable {
    /// An SQLite file (WAL mode).
    case sqliteFile(path: String)
    /// A private in-memory SQLite database, gone when the process ends (tests, trials).
    case sqliteMemory
    /// A PostgreSQL server.
    case postgres(url: String)

    /// Accepts `sqlite:///absolute/path.sqlite`, `sqlite://relative/path.sqlite`, `sqlite::memory:`,
    /// and `postgres://…` or `postgresql://…`.
    package init(url: String) throws(StorageError) {
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            self = .sqliteMemory
        } else if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw .unsupportedURL("database.url '\(url)' names no file") }
            self = .sqliteFile(path: path)
        } else if url.hasPrefix("sqlite:") {
            let path = String(url.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw .unsupportedURL("database.url '\(url)' names no file") }
            self = .sqliteFile(path: path)
        } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            self = .postgres(url: url)
        } else {
            throw .unsupportedURL(
                "database.url must start with sqlite:// or postgres:// (got '\(Self.redacted(url))')"
            )
        }
    }

    /// Whether the store is the embedded default (SQLite), where Tronch may generate its own pepper.
    package var isEmbedded: Bool {
        if case .postgres = self { return false }
        return true
    }

    /// The URL with any password replaced, safe to log.
    package static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else {
            return url
        }
        let credentials = url[schemeEnd.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":****" + String(url[at...])
    }
}
