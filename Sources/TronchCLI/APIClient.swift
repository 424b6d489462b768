import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TronchCore

/// A small client for Tronch's HTTP API, used by the `keys` commands.
struct APIClient {
    var baseURL: String
    /// A key or an access token; nil for the routes that take none (login).
    var apiKey: String?
    var timeout: TimeAmount = .seconds(30)

    /// Sends a request and returns the decoded JSON body; a problem response becomes a ``CLIError`` with the
    /// server's message, code and request id.
    func send(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: JSONValue? = nil
    ) async throws
        -> JSONValue
    {
        var url = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        url += path
        if !query.isEmpty {
            var components = URLComponents()
            components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
            url += "?" + (components.percentEncodedQuery ?? "")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "tronch-cli")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: try JSONValue.encodeCanonical(body)))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        // A connection refused is retried until the connect timeout, so keep that short for a CLI.
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(timeout: .init(connect: .seconds(3), read: timeout))
        )
        do {
            response = try await client.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 16 << 20)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw CLIError("cannot reach the Tronch server at \(baseURL): \(error)")
        }
        let json = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes.readableBytesView))
        guard (200..<300).contains(Int(response.status.code)) else {
            throw CLIError(Self.describeProblem(json, status: Int(response.status.code)), problem: json)
        }
        if response.status == .noContent { return .null }
        guard let json else { throw CLIError("the server answered with something that is not JSON") }
        return json
    }

    static func describeProblem(_ json: JSONValue?, status: Int) -> String {
        guard case .object(let problem)? = json else { return "the server answered HTTP \(status)" }
        var message = problem["detail"]?.text ?? "HTTP \(status)"
        if case .array(let errors)? = problem["errors"], errors.count > 1 {
            for case .object(let error) in errors {
                message += "\n  \(error["field"]?.text ?? "?"): \(error["message"]?.text ?? "")"
            }
        }
        var trailer = [String]()
        if let code = problem["code"]?.text { trailer.append(code) }
        if let requestID = problem["request_id"]?.text { trailer.append("request \(requestID)") }
        return trailer.isEmpty ? message : "\(message) (\(trailer.joined(separator: ", ")))"
    }
}

extension JSONValue {
    /// The value as display text: strings bare, null as `-`, everything else as JSON.
    var text: String {
        switch self {
        case .string(let value): value
        case .null: "-"
        case .bool(let value): String(value)
        case .int(let value): String(value)
        case .double(let value): String(value)
        default: (try? JSONValue.encodeCanonical(self)) ?? ""
        }
    }
}
