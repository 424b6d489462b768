import Hummingbird
import NIOCore
import Prometheus
import TronchCore

/// `GET /api/v1/metrics`: every metric in Prometheus text format.
struct MetricsController {
    let access: MetricsAccess

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("metrics", use: metrics)
    }

    @Sendable func metrics(_ request: Request, context: AppRequestContext) async throws -> Response {
        if access == .scope { try context.requirePrincipal() }
        var buffer = [UInt8]()
        MetricsExport.registry.emit(into: &buffer)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer))
        )
    }
}
