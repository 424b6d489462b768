import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TronchCore
import TronchTestSupport

/// OpenTelemetry end to end: `tronch serve` with TRONCH_TRACING=otlp exports its spans over OTLP/HTTP (JSON
/// encoding) to a receiver on loopback; the caller's `traceparent` is continued, the store's calls are
/// child spans, and the request's log line carries both its request id and its trace id.
@Suite(.serialized, .timeLimit(.minutes(3))) struct TracingTests {
    /// Collects OTLP/HTTP trace exports (`POST /v1/traces`) until a span whose parent is `parent` arrives or
    /// `seconds` pass, then prints the spans as JSON: name, kind, trace and span ids, parent, attributes.
    static let receiver = """
        import base64, http.server, json, sys, time
        def hex_id(value):
            # OTLP/JSON says hex; a protobuf JSON encoder may send the bytes in base64.
            try:
                bytes.fromhex(value); return value.lower()
            except ValueError:
                return base64.b64decode(value).hex()
        port, seconds, parent = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
        spans = []
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                for resource in body.get("resourceSpans", []):
                    service = {a["key"]: a["value"] for a in resource.get("resource", {}).get("attributes", [])}
                    for scope in resource.get("scopeSpans", []):
                        for span in scope.get("spans", []):
                            attributes = {a["key"]: list(a["value"].values())[0] for a in span.get("attributes", [])}
                            spans.append({"name": span["name"], "kind": span.get("kind"), "trace": hex_id(span["traceId"]), "id": hex_id(span["spanId"]),
                                          "parent": hex_id(span.get("parentSpanId", "")), "attributes": attributes,
                                          "service": list(service.get("service.name", {}).values())[0] if "service.name" in service else ""})
                self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", "2")
                self.end_headers(); self.wfile.write(b"{}")
            def log_message(self, *args): pass
        server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        server.timeout = 0.2
        deadline = time.time() + seconds
        while time.time() < deadline and not any(s["parent"] == parent for s in spans): server.handle_request()
        print(json.dumps(spans))
        """

    struct Span: Decodable {
        var name: String
        var kind: Int?
        var trace: String
        var id: String
        var parent: String
        var attributes: [String: JSONValue]
        var service: String
    }

    @Test func requestsAndStoreCallsAreExportedAsOneTrace() async throws {
        // The caller's trace (W3C trace context), continued by Tronch.
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        let parentID = "00f067aa0ba902b7"
        let receiverPort = try Tronch.freePort()
        let receiving = Task {
            try await ChildProcess.run(
                "/usr/bin/env",
                ["python3", "-c", Self.receiver, String(receiverPort), "30", parentID],
                timeout: .seconds(60)
            )
        }
        let directory = try Tronch.temporaryDirectory()
        var environment = [
            "TRONCH_TRACING": "otlp", "TRONCH_LOG_FORMAT": "json", "TRONCH_LOG_LEVEL": "debug", "TRONCH_AUTH_QUERY_PARAMETER": "true",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiverPort)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        ]
        // With Redis (always in CI), the caller's API rate limit is a Redis call within the request.
        if let redis = TestRedis.url { environment["TRONCH_REDIS_URL"] = redis }
        let server = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await server.waitUntilReady()
        let rootKey = try #require(server.stdout.split(whereSeparator: \.isWhitespace).map(String.init).first { KeyFormat.parse($0) != nil })

        // The key in the query (TRONCH_AUTH_QUERY_PARAMETER): the span records the query with it redacted.
        var request = HTTPClientRequest(url: "\(server.baseURL)/api/v1/keys?limit=5&api_key=\(rootKey)")
        request.headers.add(name: "traceparent", value: "00-\(traceID)-\(parentID)-01")
        request.headers.add(name: "X-Request-Id", value: "trace-test-1")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        #expect(response.status.code == 200)

        let output = try await receiving.value
        #expect(try await server.terminate() == 0)
        let spans = try JSONDecoder().decode([Span].self, from: Data(output.stdout.utf8))
        let traced = spans.filter { $0.trace == traceID }
        let root = try #require(traced.first { $0.parent == parentID }, "the request's span continues the caller's trace: \(spans.map(\.name))")
        #expect(root.name == "/api/v1/keys" && root.kind == 2)
        #expect(root.service == "tronch")
        #expect(root.attributes["tronch.request_id"] == "trace-test-1")
        #expect(root.attributes["http.request.method"] == "GET" && root.attributes["http.response.status_code"] == "200")
        #expect(root.attributes["url.query"] == "limit=5&api_key=REDACTED", "a key in the query is redacted")
        let children = traced.filter { $0.parent == root.id }
        #expect(children.contains { $0.name == "sqlite keys(matching:)" && $0.kind == 3 }, "\(traced.map(\.name))")
        if TestRedis.url != nil {
            #expect(children.contains { $0.name.hasPrefix("redis EVAL") && $0.attributes["db.system.name"] == "redis" }, "\(traced.map(\.name))")
        }
        #expect(!spans.contains { $0.attributes.values.contains { $0.string?.contains(rootKey) == true } }, "no span holds a key")

        // The request's log line names both ids.
        let line = try #require(server.stderr.split(separator: "\n").first { $0.contains(#""request_id":"trace-test-1""#) }, "\(server.stderr)")
        #expect(line.contains(#""trace_id":"\#(traceID)""#), "\(line)")
        #expect(!server.stderr.contains(rootKey))
    }

    @Test func anUnknownExporterStopsStartUp() async throws {
        let result = try await Tronch.run(
            ["serve", "--port", "0"],
            environment: ["TRONCH_TRACING": "jaeger"],
            directory: try Tronch.temporaryDirectory()
        )
        #expect(result.status != 0)
        #expect(result.stderr.contains("TRONCH_TRACING"), "\(result.stderr)")
        let grpc = try await Tronch.run(
            ["serve", "--port", "0"],
            environment: ["TRONCH_TRACING": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"],
            directory: try Tronch.temporaryDirectory()
        )
        #expect(grpc.status == 1, "a clear error, not a crash")
        #expect(grpc.stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "\(grpc.stderr)")
    }
}
