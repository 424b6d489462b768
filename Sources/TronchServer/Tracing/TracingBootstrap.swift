import Foundation
import Instrumentation
import Logging
import OTel
import ServiceLifecycle
import Synchronization
import TronchTracing

/// Turns OpenTelemetry tracing on for the process (TRONCH_TRACING=otlp): a span for every request (W3C
/// trace context read from `traceparent`), client spans for the store and Redis, exported over OTLP/HTTP as
/// the standard `OTEL_*` variables say (endpoint, protocol, headers, sampler, service name).
enum TracingBootstrap {
    /// The tracer is global to the process, so it is bootstrapped once, by the first server built with it.
    private static let bootstrapped = Mutex(false)

    /// Bootstraps the tracer; returns the service that batches and exports spans, to run with the server.
    static func start(logger: Logger) throws -> any Service {
        try bootstrapped.withLock { done in
            guard !done else { throw ConfigurationError(key: "TRONCH_TRACING", "tracing is already running in this process") }
            // Only the OTLP/HTTP exporter is built in; swift-otel stops the process when asked for gRPC.
            let environment = ProcessInfo.processInfo.environment
            for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
                if let value = environment[name], !["http/protobuf", "http/json"].contains(value) {
                    throw ConfigurationError(key: name, "'\(value)' is not supported: use http/protobuf or http/json")
                }
            }
            var configuration = OTel.Configuration.default
            configuration.serviceName = "tronch"
            configuration.traces.enabled = true
            configuration.metrics.enabled = false
            configuration.logs.enabled = false
            configuration.diagnosticLogger = .custom(logger)
            configuration.diagnosticLogLevel = .warning
            let backend = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(backend.factory)
            ClientSpans.enable()
            done = true
            return backend.service
        }
    }
}
