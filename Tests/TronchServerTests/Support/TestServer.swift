import Configuration
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import TronchCore
import TronchTestSupport

@testable import TronchServer

/// A clock tests can move.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Timestamp.date(milliseconds: 1_800_000_000_000)) { current = Mutex(start) }

    var now: Date { current.withLock { $0 } }
    func advance(seconds: Double) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var wallClock: WallClock { WallClock { self.now } }
}

/// Log lines captured from a test server.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    /// Also mirrors every line to standard error when TRONCH_TEST_LOG=1, for debugging a test.
    var output: LogOutput {
        let mirror = ProcessInfo.processInfo.environment["TRONCH_TEST_LOG"] == "1"
        return LogOutput { line in
            self.lines.withLock { $0.append(line) }
            if mirror { LogOutput.standardError.write(line) }
        }
    }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    func tail(_ count: Int) -> String { lines.withLock { $0.suffix(count).joined(separator: "\n") } }
    var count: Int { lines.withLock { $0.count } }
}

/// The databases the HTTP suites run on: SQLite always, PostgreSQL whenever `scripts/test` provides one.
enum ServerBackend: String, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    static var all: [ServerBackend] {
        TestPostgres.url == nil && !TestPostgres.isRequired ? [.sqlite] : [.sqlite, .postgres]
    }

    var testDescription: String { rawValue }
}

/// Builds the real application with in-memory configuration, the way `tronch serve` does.
struct TestServer {
    /// A server on `backend`: in-memory SQLite, or a fresh schema of the test PostgreSQL.
    static func on(_ backend: ServerBackend, config: [String: String] = [:]) async throws -> TestServer {
        var config = config
        if backend == .postgres { config["database.url"] = try await TestPostgres.freshSchemaURL() }
        return TestServer(config: config)
    }

    static let pepper = "test-pepper-that-is-long-enough-0123456789"
    static let rootKey = KeyFormat(prefix: "tronch")!.generate(environment: .live)

    static func reader(_ values: [String: String] = [:], defaults: Bool = true) -> ConfigReader {
        var all: [String: String] =
            defaults
            ? [
                "database.url": "sqlite::memory:", "key.pepper": pepper, "bootstrap.rootKey": rootKey, "port": "0",
                "usage.flushInterval": "0.1",
                // Suites that are not about Tronch's own limits create many keys and fail on purpose.
                "ratelimit.keyCreation": "1000000/1h", "ratelimit.authFailures": "1000000/1m", "ratelimit.login": "1000000/1m",
                "ratelimit.api": "1000000/1h",
                // The cheapest scrypt Tronch accepts: the suites log in hundreds of times.
                "password.scryptLogN": "10",
            ] : [:]
        for (key, value) in values { all[key] = value }
        // An empty pepper means none: the embedded store's own pepper file.
        if all["key.pepper"] == "" { all["key.pepper"] = nil }
        var config: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in all {
            config[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = .init(.string(value), isSecret: false)
        }
        return ConfigReader(provider: InMemoryProvider(values: config))
    }

    var config: [String: String] = [:]
    var clock = TestClock()
    var logs = LogCapture()

    func options() -> BuildOptions {
        var options = BuildOptions()
        options.logOutput = logs.output
        options.clock = clock.wallClock
        options.announceRootKey = { _ in }
        return options
    }

    func run<T: Sendable>(
        _ mode: TestingSetup = .router,
        _ body: @Sendable (APIClient) async throws -> T
    ) async throws -> T {
        let app = try await buildApplication(reader: Self.reader(config), options: options())
        do {
            return try await app.test(mode) { client in try await body(APIClient(client: client)) }
        } catch {
            // A test stopped by an error (a failed #require too) shows what its server logged. Printed, not
            // recorded as an issue: some tests expect the error.
            FileHandle.standardError.write(Data("the test server's log when \(error) was thrown, last lines:\n\(logs.tail(40))\n".utf8))
            throw error
        }
    }
}

/// A JSON answer from the test server.
struct APIResponse {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var json: JSONValue

    subscript(_ key: String) -> JSONValue? { json[key] }
    var code: String? { json["code"]?.string }
}

/// Sends JSON requests with a key.
struct APIClient: Sendable {
    let client: any TestClientProtocol

    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        key: String? = TestServer.rootKey,
        json: JSONValue? = nil,
        raw: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(string: try JSONValue.encodeCanonical(json)) }
        if let raw { body = ByteBuffer(string: raw) }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
        let parsed = (try? JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))) ?? .null
        return APIResponse(status: response.status, headers: response.headers, json: parsed)
    }

    /// Creates a key with the root key and returns the answer (the record plus `key`).
    func createKey(_ fields: [String: JSONValue] = [:], as key: String = TestServer.rootKey) async throws -> APIResponse {
        let response = try await request(.post, "/api/v1/keys", key: key, json: .object(fields))
        #expect(response.status == .created, "\(response.json)")
        return response
    }

    func verify(_ key: String, scopes: [String]? = nil, ip: String? = nil) async throws -> APIResponse {
        var body: [String: JSONValue] = ["key": .string(key)]
        if let scopes { body["scopes"] = .array(scopes.map(JSONValue.string)) }
        if let ip { body["ip"] = .string(ip) }
        let response = try await request(.post, "/api/v1/keys/verify", json: .object(body))
        #expect(response.status == .ok, "\(response.json)")
        return response
    }
}
