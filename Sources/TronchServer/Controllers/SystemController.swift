import Hummingbird
import NIOCore

/// Routes that need no key: liveness and the API description.
struct SystemController {
    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("health", use: health)
        group.get("openapi.json", use: openAPI)
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
