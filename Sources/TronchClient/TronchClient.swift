public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A client for Tronch's API: keys, verification, people, tokens and permission checks, as typed Swift values.
///
/// Every call is authenticated with ``credential`` (a Tronch key or a person's access token). A `POST` or
/// `PATCH` carries an `Idempotency-Key`, so that an answer of `429` or `503` can be retried safely: the call is
/// tried again after the `Retry-After` the server asked for (at most ``RetryPolicy/maxDelay``), up to
/// ``RetryPolicy/maxRetries`` times, and the server runs a repeated creation only once.
public struct TronchClient: Sendable {
    /// The server, such as `https://tronch.internal:8080` (paths are appended to it).
    public var baseURL: String
    /// What authenticates each call; nil for the public routes (login, JWKS, health).
    public var credential: Credential?
    public var retry: RetryPolicy
    /// Each call's time box.
    public var timeout: Duration
    let http: HTTPClient

    public enum Credential: Sendable, Hashable {
        /// A Tronch key (`tronch_sk_live_…`), sent as `Authorization: Bearer`.
        case apiKey(String)
        /// A person's access token (a JWT from ``login(username:password:)``).
        case accessToken(String)

        var bearer: String {
            switch self {
            case .apiKey(let key): key
            case .accessToken(let token): token
            }
        }
    }

    public struct RetryPolicy: Sendable, Hashable {
        /// Further attempts after a `429` or `503` answer (0: none).
        public var maxRetries: Int
        /// The longest wait before a retry: a longer `Retry-After` is not waited for, and the answer is thrown.
        public var maxDelay: Duration

        public init(maxRetries: Int = 2, maxDelay: Duration = .seconds(10)) {
            self.maxRetries = maxRetries
            self.maxDelay = maxDelay
        }

        public static let none = RetryPolicy(maxRetries: 0)
    }

    public init(
        baseURL: String,
        credential: Credential? = nil,
        retry: RetryPolicy = RetryPolicy(),
        timeout: Duration = .seconds(10),
        httpClient: HTTPClient = .shared
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.credential = credential
        self.retry = retry
        self.timeout = timeout
        self.http = httpClient
    }

    /// This client with another credential: `client.with(.accessToken(tokens.accessToken))`.
    public func with(_ credential: Credential?) -> TronchClient {
        var copy = self
        copy.credential = credential
        return copy
    }
}

extension TronchClient {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            let styles: [Date.ISO8601FormatStyle] = [.iso8601.year().month().day().time(includingFractionalSeconds: true), .iso8601]
            for style in styles { if let date = try? style.parse(text) { return date } }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an RFC 3339 time"))
        }
        return decoder
    }()

    /// Sends one call (and its retries) and decodes a 2xx answer as `Answer`; anything else is thrown as a
    /// ``TronchError``.
    func send<Answer: Decodable>(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: (some Encodable)? = Never?.none,
        authenticated: Bool = true,
        as: Answer.Type = Answer.self
    ) async throws -> Answer {
        let (status, bytes) = try await exchange(method, path, query: query, body: body, authenticated: authenticated)
        guard (200..<300).contains(status) else { throw TronchError(status: status, body: bytes) }
        if Answer.self == Empty.self { return Empty() as! Answer }
        do {
            return try Self.decoder.decode(Answer.self, from: Data(bytes))
        } catch {
            throw TronchError(status: status, code: "UNEXPECTED_ANSWER", detail: "could not read the answer: \(error)")
        }
    }

    /// The status and body of a call, after the retries the policy allows.
    func exchange(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)],
        body: (some Encodable)?,
        authenticated: Bool
    ) async throws -> (Int, [UInt8]) {
        var request = HTTPClientRequest(url: baseURL + path + Self.queryString(query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "tronch-swift/1")
        if authenticated, let credential { request.headers.add(name: "Authorization", value: "Bearer \(credential.bearer)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try Self.encoder.encode(body)))
        }
        // The same key on every attempt: a retried creation is answered from the first, never run twice.
        if method == .POST || method == .PATCH { request.headers.add(name: "Idempotency-Key", value: UUID().uuidString.lowercased()) }
        var attempt = 0
        while true {
            let response = try await http.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
            let body = try await response.body.collect(upTo: 16 << 20)
            let status = Int(response.status.code)
            if status == 429 || status == 503, attempt < retry.maxRetries,
                let wait = Self.retryDelay(response.headers.first(name: "Retry-After")), wait <= retry.maxDelay
            {
                attempt += 1
                try await Task.sleep(for: wait)
                continue
            }
            return (status, Array(body.readableBytesView))
        }
    }

    /// The wait a `Retry-After` of whole seconds asks for (an HTTP date is not used by Tronch); a missing
    /// header waits one second.
    static func retryDelay(_ header: String?) -> Duration? {
        guard let header else { return .seconds(1) }
        guard let seconds = Int64(header.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return .seconds(seconds)
    }

    static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return "?" + query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
    }

    static func path(_ segment: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }
}

/// An answer with no body (`204`).
struct Empty: Codable, Sendable {}
