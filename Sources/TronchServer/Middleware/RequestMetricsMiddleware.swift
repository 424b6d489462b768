import Dispatch
import Hummingbird
import Logging
import Metrics
import Synchronization

/// Every request's metrics, under Hummingbird's names and dimensions (`hb.requests`,
/// `http.server.request.duration`, `http.server.active_requests`, `hb.request.errors`: docs/monitoring.md), and
/// at debug level one access-log line (method, route pattern, status, duration).
///
/// Hummingbird's own metrics middleware records after the body is written, by wrapping every body in a
/// closure, and that takes every answer off the writer's path for a ready buffer (head, body and end in one
/// write). Tronch's answers are all ready buffers, so this one records when the answer is returned.
///
/// The log names the route pattern (`/api/v1/keys/{id}`), not the raw path: a client that puts a key in a URL
/// by mistake must not get it written to the log, and the query string may carry `api_key`.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    private let handles = RequestMetricHandles()

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let active = handles.active(request.method)
        active.increment()
        defer { active.decrement() }
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let endpoint = handles.endpoint(.init(route: context.endpointPath ?? "NotFound", method: request.method, status: status))
            endpoint.requests.increment()
            endpoint.errors.increment()
            throw error
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        let endpoint = handles.endpoint(.init(route: context.endpointPath ?? "Unknown", method: request.method, status: response.status))
        endpoint.requests.increment()
        endpoint.duration.recordNanoseconds(Int64(elapsed))
        if context.logger.logLevel <= .debug {
            context.logger.debug(
                "request",
                metadata: [
                    "method": "\(request.method)", "route": "\(context.endpointPath ?? "unmatched")",
                    "status": "\(response.status.code)", "duration_ms": "\(Double(elapsed / 1_000) / 1_000)",
                ]
            )
        }
        return response
    }
}

/// The metric handles of each route, method and status, made at their first request: the metrics factory's
/// own lookup takes a lock and builds a label string every time.
final class RequestMetricHandles: Sendable {
    struct EndpointID: Hashable {
        var route: String
        var method: HTTPRequest.Method
        var status: HTTPResponse.Status
    }

    struct Endpoint: Sendable {
        let requests: Counter
        let duration: Timer
        let errors: Counter

        init(_ id: EndpointID) {
            let dimensions = [
                ("http.route", id.route), ("http.request.method", id.method.rawValue),
                ("http.response.status_code", String(id.status.code)),
            ]
            requests = Counter(label: "hb.requests", dimensions: dimensions)
            duration = Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds)
            errors = Counter(
                label: "hb.request.errors",
                dimensions: [("http.route", id.route), ("http.request.method", id.method.rawValue), ("error.type", String(id.status.code))]
            )
        }
    }

    private let endpoints = Mutex<[EndpointID: Endpoint]>([:])
    private let actives = Mutex<[HTTPRequest.Method: Meter]>([:])

    func endpoint(_ id: EndpointID) -> Endpoint {
        endpoints.withLock { endpoints in
            if let known = endpoints[id] { return known }
            let made = Endpoint(id)
            endpoints[id] = made
            return made
        }
    }

    func active(_ method: HTTPRequest.Method) -> Meter {
        actives.withLock { actives in
            if let known = actives[method] { return known }
            let made = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)])
            actives[method] = made
            return made
        }
    }
}
