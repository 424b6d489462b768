import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TronchCore
import TronchStorage

/// `Idempotency-Key` on the POST and PATCH routes of Tronch's own API, with Stripe's semantics: the first
/// request with a key runs and its answer is kept for 24 hours; the same key with the same method, path and
/// body gets that answer again (`Idempotent-Replayed: true`) without running anything; the same key with
/// another request is 422 `IDEMPOTENCY_MISMATCH`; while the first is still running, 409 `CONFLICT`.
///
/// Keys belong to their caller (the key, or the person of an access token), so one caller can never see
/// another's answer. Answers are kept sealed with the secrets key: a key creation's answer holds the new
/// secret. A request that fails (any error, or a 5xx answer) changed nothing and keeps nothing: the key is
/// released and a retry runs again. A node that dies mid-request holds the key for at most a minute.
/// Checks that write nothing (verification, permission checks, introspection) and logging out (the same
/// however often it is sent) ignore the header.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let store: any IdempotencyStore
    let secrets: SecretBox
    let clock: WallClock
    let maxBodySize: Int
    let logger: Logger

    static let header = HTTPField.Name("Idempotency-Key")!
    static let replayed = HTTPField.Name("Idempotent-Replayed")!
    /// How long an answer is kept.
    static let window: TimeInterval = 86_400
    /// How long a running request holds its key before a retry may take over (longer than any request).
    static let lease: TimeInterval = 60
    static let exempt: Set<String> = [
        "/api/v1/keys/verify", "/api/v1/authz/check", "/api/v1/authz/check-batch", "/api/v1/auth/introspect", "/api/v1/auth/logout",
    ]
    /// The answer headers kept with the body; the rest (request id, date) belong to each answer.
    static let keptHeaders: [HTTPField.Name] = [.contentType, .cacheControl, .location]

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard request.method == .post || request.method == .patch, let key = request.headers[Self.header],
            !Self.exempt.contains(context.endpointPath ?? ""), let principal = context.principal
        else { return try await next(request, context) }
        guard Self.isAcceptable(key) else {
            throw APIError(.validationFailed, "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces")
        }
        var request = request
        let body = try await request.collectBody(upTo: maxBodySize)
        let caller = principal.keyID.map { "key:\($0.lowercased)" } ?? principal.reference
        let now = clock.now
        let claim = IdempotencyClaim(
            caller: caller,
            key: key,
            fingerprint: Self.fingerprint(request, body: body),
            now: now,
            expiresAt: now.addingTimeInterval(Self.window),
            leaseUntil: now.addingTimeInterval(Self.lease)
        )
        let context = context
        switch try await store.claimIdempotencyKey(claim) {
        case .mismatch:
            throw APIError(.idempotencyMismatch, "this Idempotency-Key was used for another request (another method, path or body); use a new key")
        case .inProgress:
            throw APIError(
                .conflict,
                "a request with this Idempotency-Key is still running; retry when it has finished",
                headers: [.retryAfter: "1"]
            )
        case .completed(let status, let sealed):
            return try replay(status: status, sealed: sealed, caller: caller, key: key)
        case .claimed:
            let response: Response
            do {
                response = try await next(request, context)
            } catch {
                await release(caller: caller, key: key)
                throw error
            }
            guard response.status.code < 500 else {
                await release(caller: caller, key: key)
                return response
            }
            return try await keep(response, caller: caller, key: key)
        }
    }

    /// 1–255 visible ASCII characters (Stripe allows 255).
    static func isAcceptable(_ key: String) -> Bool {
        (1...255).contains(key.utf8.count) && key.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// What makes two requests the same: method, path with query, body.
    static func fingerprint(_ request: Request, body: ByteBuffer) -> String {
        var hash = SHA256()
        hash.update(data: Array("\(request.method.rawValue) \(request.uri.path)?\(request.uri.query ?? "")\n".utf8))
        body.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
        return hash.finalize().hexEncoded
    }

    private func keep(_ response: Response, caller: String, key: String) async throws -> Response {
        let collector = BodyCollector()
        try await response.body.write(collector.writer)
        let bytes = await collector.bytes()
        var headers = [JSONValue]()
        for name in Self.keptHeaders {
            for value in response.headers[values: name] { headers.append([.string(name.rawName), .string(value)]) }
        }
        let answer: JSONValue = [
            "status": .int(Int64(response.status.code)), "headers": .array(headers),
            "body": .string(Data(bytes.readableBytesView).base64EncodedString()),
        ]
        do {
            let sealed = try secrets.seal(
                Array(try JSONValue.encodeCanonical(answer).utf8),
                context: SealedSecret.idempotentAnswerContext(caller: caller, key: key)
            )
            try await store.completeIdempotencyKey(caller: caller, key: key, status: Int(response.status.code), sealedAnswer: sealed)
        } catch {
            // The request's work is done and stays done; only its replay is lost (the key stays claimed until
            // its lease ends).
            logger.error("cannot keep an idempotent answer", metadata: ["error": "\(error)"])
        }
        var kept = response
        kept.body = ResponseBody(byteBuffer: bytes)
        return kept
    }

    private func replay(status: Int, sealed: String, caller: String, key: String) throws -> Response {
        let opened = try secrets.open(sealed, context: SealedSecret.idempotentAnswerContext(caller: caller, key: key))
        let answer = try JSONDecoder().decode(JSONValue.self, from: Data(opened))
        var headers = HTTPFields()
        for case .array(let pair) in answer["headers"]?.array ?? [] {
            guard pair.count == 2, let text = pair[0].string, let name = HTTPField.Name(text), let value = pair[1].string else { continue }
            headers.append(HTTPField(name: name, value: value))
        }
        headers[Self.replayed] = "true"
        let body = Data(base64Encoded: answer["body"]?.string ?? "") ?? Data()
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    private func release(caller: String, key: String) async {
        do {
            try await store.releaseIdempotencyKey(caller: caller, key: key)
        } catch {
            logger.warning("cannot release an idempotency key; it frees itself within a minute", metadata: ["error": "\(error)"])
        }
    }
}

/// Collects what a response body writes, to keep it and send it again.
private struct BodyCollector {
    private let box = Box()

    private final class Box: @unchecked Sendable {
        // Written by one writer, in order, before it is read: no concurrent access.
        var buffer = ByteBuffer()
    }

    private struct Writer: ResponseBodyWriter {
        let box: Box
        mutating func write(_ buffer: ByteBuffer) async throws {
            var buffer = buffer
            box.buffer.writeBuffer(&buffer)
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    var writer: some ResponseBodyWriter { Writer(box: box) }
    func bytes() async -> ByteBuffer { box.buffer }
}

/// Deletes kept answers once their 24 hours are over, every hour.
struct IdempotencyPruning: Service {
    let store: any IdempotencyStore
    let clock: WallClock
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        await Periodic.run(every: interval, logger: logger, failure: "cannot prune expired idempotency keys") {
            let deleted = try await store.pruneIdempotencyKeys(now: clock.now)
            if deleted > 0 { logger.info("pruned expired idempotency keys", metadata: ["rows": "\(deleted)"]) }
        }
    }
}
