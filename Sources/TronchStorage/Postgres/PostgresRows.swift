package import Logging
package import PostgresNIO

// A query's rows must be read to the end before its connection goes back to the pool (or serves the next
// statement of a transaction). These read them all, so no caller can forget.

extension PostgresClient {
    @discardableResult
    package func rows(_ query: PostgresQuery, logger: Logger? = nil) async throws -> [PostgresRow] {
        try await self.query(query, logger: logger).collect()
    }
}

extension PostgresConnection {
    @discardableResult
    package func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await self.query(query, logger: logger).collect()
    }
}
