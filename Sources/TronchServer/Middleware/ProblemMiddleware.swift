import Hummingbird
import Logging
import Metrics
import TronchCore
import TronchStorage

/// Turns every error into an RFC 9457 problem response with a stable code and the request id.
///
/// Errors Tronch names (``APIError``, `DomainError`) keep their message; Hummingbird's own HTTP errors map
/// to the matching code; anything else is a bug: logged with the request id, answered as a bare 500.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    /// An unreachable database fails every request; one line every few seconds says so.
    let throttle = LogThrottle()
    let databaseErrors = Counter(label: "tronch_database_unavailable_total")

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = Self.apiError(for: error, request: request, logger: context.logger, throttle: throttle)
            if apiError.code == .serviceUnavailable { databaseErrors.increment() }
            return try Self.response(apiError, requestID: context.requestID)
        }
    }

    static func response(_ error: APIError, requestID: String) throws -> Response {
        var response = try Response.json(
            Problem(error, requestID: requestID),
            status: error.status,
            contentType: "application/problem+json"
        )
        response.headers.append(contentsOf: error.headers)
        return response
    }

    static func apiError(for error: any Error, request: Request, logger: Logger, throttle: LogThrottle) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as DomainError:
            return APIError(error)
        case let error as RateLimitRefusal:
            return APIError.rateLimited(error.decision, error.detail)
        case let error as any HTTPResponseError:
            let body = (error as? HTTPError)?.body
            switch error.status {
            case .notFound:
                return APIError(.notFound, "no route \(request.method) \(request.uri.path)")
            case .methodNotAllowed:
                return APIError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)")
            case .contentTooLarge:
                return APIError(.payloadTooLarge, "the request body is too large")
            case .unsupportedMediaType:
                return APIError(.unsupportedMediaType, body ?? "unsupported media type")
            case let status where (400..<500).contains(status.code):
                return APIError(.validationFailed, body ?? status.reasonPhrase)
            default:
                break
            }
        case let error as StorageError:
            if case .unavailable = error {
                throttle.log(.error, "database unavailable; answering 503", topic: "database", metadata: ["error": "\(error)"], logger: logger)
                return APIError(.serviceUnavailable, "the database is unavailable; retry shortly")
            }
        default:
            break
        }
        logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))", "detail": "\(error)"])
        return APIError(.internal, "an internal error occurred; quote the request id when reporting it")
    }
}
