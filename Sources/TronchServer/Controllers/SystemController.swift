import Hummingbird
import NIOCore
import TronchStorage

/// Routes that need no key: liveness, readiness and the API description.
struct SystemController {
    let database: StoreHandle

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("health", use: health)
        group.get("health/ready", use: ready)
        group.get("openapi.json", use: openAPI)
    }

    struct Readiness: Encodable {
        struct Check: Encodable {
            var status: String
            var backend: String
            var latencyMS: Double
            var error: String?

            enum CodingKeys: String, CodingKey {
                case status, backend, error
                case latencyMS = "latency_ms"
            }
        }

        var status: String
        var checks: [String: Check]
    }

    /// 200 when every dependency answers, 503 (same body) when one does not: what a load balancer polls.
    @Sendable func ready(_ request: Request, context: AppRequestContext) async throws -> Response {
        let start = ContinuousClock.now
        var failure: String?
        do {
            try await database.store.ping()
        } catch StorageError.unavailable(let reason) {
            failure = reason
        } catch {
            failure = "\(type(of: error))"
        }
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let check = Readiness.Check(
            status: failure == nil ? "up" : "down", backend: database.backend,
            latencyMS: (milliseconds * 1000).rounded() / 1000, error: failure
        )
        return try Response.json(
            Readiness(status: failure == nil ? "ready" : "unavailable", checks: ["database": check]),
            status: failure == nil ? .ok : .serviceUnavailable
        )
    }

    struct Health: Encodable {
        var status = "ok"
        var version = TronchVersion.current
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> Response {
        try Response.json(Health())
    }

    @Sendable func openAPI(_ request: Request, context: AppRequestContext) async throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json))
        )
    }
}

package enum TronchVersion {
    package static let current = "0.1.0"
}
