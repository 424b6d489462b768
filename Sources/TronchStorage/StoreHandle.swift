package import ServiceLifecycle

/// Everything a backend offers.
package typealias Store = KeyStore & UserStore & TokenStore & MFAStore & IdempotencyStore & AuthzStore & AuditStore & UsageStore
    & WebhookStore & SchemaMigrator & SettingsStore & DatabaseHealth

/// An opened store and the services that must run for it to work (PostgreSQL's connection pool).
package struct StoreHandle: Sendable {
    package var store: any Store
    package var services: [any Service]
    /// `sqlite` or `postgresql`, for logs and readiness.
    package var backend: String

    package init(store: any Store, services: [any Service], backend: String) {
        self.store = store
        self.services = services
        self.backend = backend
    }

    /// Runs `body` with the store's services running, then stops them: for commands such as
    /// `tronch migrate` that use the store outside the server.
    package func withServices<T: Sendable>(_ body: @Sendable @escaping (any Store) async throws -> T) async throws -> T {
        guard !services.isEmpty else { return try await body(store) }
        let services = self.services
        let store = self.store
        return try await withThrowingTaskGroup(of: T?.self) { group in
            for service in services {
                group.addTask {
                    try await service.run()
                    return nil
                }
            }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }
}
