import CoreMetrics
package import Prometheus

/// Tronch's metrics go through swift-metrics; this process exports them in Prometheus text format.
package enum MetricsExport {
    package static let registry = PrometheusCollectorRegistry()

    private static let bootstrapped: Void = {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let info = MetricNameDescriptor(
            namespace: "tronch",
            metricName: "build",
            unitName: "info",
            helpText: "The running Tronch version (always 1)."
        )
        registry.makeGauge(descriptor: info, labels: [("version", TronchVersion.current)]).set(1.0)
    }()

    /// Installs the Prometheus backend, once per process (swift-metrics allows only one).
    package static func bootstrap() { _ = bootstrapped }
}

/// Who may read `GET /api/v1/metrics`.
package enum MetricsAccess: String, Sendable, CaseIterable {
    /// Anyone who can reach the listener (put it behind your network's rules).
    case open
    /// A key holding `metrics:read` (or `admin`): what Prometheus sends as a bearer token.
    case scope
    /// Not served.
    case off
}
