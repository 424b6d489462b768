import Instrumentation
import Synchronization
import Tracing

/// Spans around the calls Tronch makes to its database and to Redis, when tracing is on.
///
/// Off (the default) costs one relaxed atomic load per call: the tracer is never asked, so a node without
/// tracing pays nothing for it on the request path.
package enum ClientSpans {
    private static let enabled = Atomic<Bool>(false)

    package static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Called once, when the process has bootstrapped a tracer.
    package static func enable() { enabled.store(true, ordering: .relaxed) }

    /// Runs `body` in a client span named `operation` (a store method, a Redis command), attributed to `system`
    /// (`postgresql`, `sqlite`, `redis`). The span records what was called, never the arguments.
    ///
    /// Only within a trace (a request's): the background services' polling, several calls a second on an
    /// idle node, would otherwise bury the requests under traces of their own.
    ///
    /// - Important: Callers check ``isEnabled`` first and call `body` directly when it is off, so that a node
    ///   without tracing makes no generic call into this module on the request path.
    package static func measure<T>(
        system: String,
        operation: String,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        guard let context = InstrumentationContext.current else { return try await body() }
        return try await withSpan("\(system) \(operation)", context: context, ofKind: .client, isolation: isolation) { span in
            span.attributes["db.system.name"] = system
            span.attributes["db.operation.name"] = operation
            return try await body()
        }
    }
}
