import ServiceLifecycle

/// A service that ServiceLifecycle's logs name by its type alone. They name a service by
/// `String(describing:)`, which for a struct prints every stored property: its store, its clock, its keys'
/// ids (never their bytes, today, but one careless property would put a secret in the debug log).
struct NamedService: Service, CustomStringConvertible {
    let base: any Service

    var description: String { String(describing: type(of: base)) }

    func run() async throws { try await base.run() }
}
