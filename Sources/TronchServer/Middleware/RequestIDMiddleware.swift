import HTTPTypes
import Hummingbird
import Instrumentation
import Logging
import Synchronization
import Tracing

/// Gives every request an id: the client's `X-Request-Id` when it is short and plain, otherwise a new one.
/// The id goes on the response, into every log line, and into problem bodies. Every answer also gets the
/// ``SecurityHeaders`` here: one middleware fewer on every request.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    private let generator = RequestIDGenerator()
    var securityHeaders = SecurityHeaders(hstsMaxAge: 0)
    /// Whether the request's span (TracingMiddleware's, when tracing is on) gets the id as `tronch.request_id`.
    var tagsSpans = false

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let id = request.headers[.requestID].flatMap { Self.isAcceptable($0) ? $0 : nil } ?? generator.next()
        context.requestID = id
        context.logger[metadataKey: "request_id"] = .string(id)
        // Hummingbird's own counter id would only repeat what request_id says.
        context.logger[metadataKey: "hb.request.id"] = nil
        if tagsSpans, let traced = InstrumentationContext.current, let span = InstrumentationSystem.tracer.activeSpan(identifiedBy: traced) {
            span.attributes["tronch.request_id"] = id
        }
        var response = try await next(request, context)
        response.headers[.requestID] = id
        response.headers.append(
            contentsOf: response.headers[.contentSecurityPolicy] == nil ? securityHeaders.always : securityHeaders.forPages
        )
        return response
    }

    /// 1–128 characters of letters, digits and `-_.:`; anything else could forge log lines.
    static func isAcceptable(_ id: String) -> Bool {
        let bytes = id.utf8
        return (1...128).contains(bytes.count)
            && bytes.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                    UInt8(ascii: ":"):
                    true
                default: false
                }
            }
    }
}

/// A random per-process prefix and a counter: unique, cheap, and no system call per request.
final class RequestIDGenerator: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        var generator = SystemRandomNumberGenerator()
        prefix = String(generator.next() & 0xFFFF_FFFF_FFFF, radix: 36)
    }

    func next() -> String {
        let value = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return "req_\(prefix)_\(String(value, radix: 36))"
    }
}
