import Hummingbird
import NIOCore
import TronchRateLimit
import TronchRedis
import TronchStorage

/// Routes that need no key: liveness, readiness and the API description.
struct SystemController {
    let database: StoreHandle
    let redis: RedisClient?
    let failureMode: RateLimitFailureMode

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

    /// 200 when every required dependency answers, 503 (same body) when one does not: what a load balancer
    /// polls. Redis is required only when the rate limiter fails closed; otherwise a node without it still
    /// serves (limits fall back as configured) and the check only reports it.
    @Sendable func ready(_ request: Request, context: AppRequestContext) async throws -> Response {
        var checks = ["database": await Self.check(backend: database.backend) { try await database.store.ping() }]
        var ready = checks["database"]?.status == "up"
        if let redis {
            let check = await Self.check(backend: "redis") { try await redis.ping() }
            checks["redis"] = check
            if failureMode == .closed && check.status != "up" { ready = false }
        }
        return try Response.json(
            Readiness(status: ready ? "ready" : "unavailable", checks: checks),
            status: ready ? .ok : .serviceUnavailable
        )
    }

    static func check(backend: String, _ probe: () async throws -> Void) async -> Readiness.Check {
        let start = ContinuousClock.now
        var failure: String?
        do {
            try await probe()
        } catch StorageError.unavailable(let reason) {
            failure = reason
        } catch let error as RedisError {
            failure = "\(error)"
        } catch {
            failure = "\(type(of: error))"
        }
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return Readiness.Check(
            status: failure == nil ? "up" : "down",
            backend: backend,
            latencyMS: (milliseconds * 1000).rounded() / 1000,
            error: failure
        )
    }

    struct Health: Encodable {
        var status = "ok"
        var version = TronchVersion.current
    }

    /// The liveness answer never changes: encoded once, not on every probe (JSONEncoder was most of the
    /// route's own cost).
    static let healthAnswer: Response = {
        do { return try Response.json(Health()) } catch { fatalError("the health answer does not encode: \(error)") }
    }()

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> Response {
        Self.healthAnswer
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
