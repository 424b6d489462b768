import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TronchCore
import TronchTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real nginx, configured with docs/examples/gateways/nginx.conf, in front of a small upstream, with a
/// real `tronch serve` answering its `auth_request` checks.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayTests {
    static let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static var required: Bool { ProcessInfo.processInfo.environment["TRONCH_TEST_REQUIRE_NGINX"] == "1" }
    static var enabled: Bool { nginx != nil || required }

    static var exampleConfig: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/examples/gateways/nginx.conf")
    }

    /// Answers every request with 200 and the headers it received, as JSON.
    static let upstream = #"""
        import json, sys
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class Echo(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def answer(self):
                body = json.dumps({"upstream": True, "method": self.command, "path": self.path,
                                   "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer
            def log_message(self, *args): pass
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
        """#

    @Test(.enabled(if: GatewayTests.enabled)) func nginxChecksEveryRequestWithTronch() async throws {
        let nginx = try #require(Self.nginx, "nginx is not installed (scripts/test installs it)")
        let directory = try Tronch.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (tronchPort, upstreamPort, nginxPort) = (try Tronch.freePort(), try Tronch.freePort(), try Tronch.freePort())
        let rootKey = KeyFormat(prefix: "tronch")!.generate(environment: .live)
        let tronch = try ServerProcess(
            arguments: ["--data-dir", directory + "/data"],
            environment: [
                "TRONCH_BOOTSTRAP_ROOT_KEY": rootKey, "TRONCH_HTTP_TRUSTED_PROXIES": "127.0.0.1/32",
                "TRONCH_FORWARD_AUTH_RULES": "POST /orders* orders:write; * /* orders:read",
            ],
            directory: directory,
            port: tronchPort
        )
        try await tronch.waitUntilReady()

        let upstream = try ChildProcess.start(
            "/usr/bin/env",
            ["python3", "-c", Self.upstream, String(upstreamPort)],
            stdout: "/dev/null",
            stderr: "/dev/null"
        )
        defer { kill(upstream.pid, SIGKILL) }

        var site = try String(contentsOf: Self.exampleConfig, encoding: .utf8)
        site = site.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(tronchPort)")
            .replacingOccurrences(of: "127.0.0.1:9000", with: "127.0.0.1:\(upstreamPort)")
            .replacingOccurrences(of: "127.0.0.1:8000", with: "127.0.0.1:\(nginxPort)")
        try site.write(toFile: directory + "/site.conf", atomically: true, encoding: .utf8)
        let main = """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log info;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(directory)/body;
                proxy_temp_path \(directory)/proxy;
                fastcgi_temp_path \(directory)/fastcgi;
                uwsgi_temp_path \(directory)/uwsgi;
                scgi_temp_path \(directory)/scgi;
                include \(directory)/site.conf;
            }
            """
        try main.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        let proxy = try ChildProcess.start(
            nginx,
            ["-p", directory, "-e", directory + "/error.log", "-c", directory + "/nginx.conf"],
            stdout: "/dev/null",
            stderr: "/dev/null"
        )
        defer { kill(proxy.pid, SIGKILL) }

        let gateway = "http://127.0.0.1:\(nginxPort)"
        let nginxLog = { (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? "" }
        // Up when the upstream answers through nginx for a valid key.
        let (_, created) = try await HTTP.call(
            "POST",
            tronch.baseURL + "/api/v1/keys",
            key: rootKey,
            body: #"{"owner_id": "cus_9", "scopes": ["orders:read"], "ratelimits": [{"name": "burst", "limit": 3, "period_seconds": 60}]}"#
        )
        let key = try #require(created["key"]?.string)
        let id = try #require(created["id"]?.string)
        try await eventually(within: 20) {
            let proxied = try? await Self.get(gateway + "/ready", key: nil)
            let direct = try? await Self.get("http://127.0.0.1:\(upstreamPort)/ready", key: nil)
            return proxied != nil && direct?.status == 200
        }

        // No key: 401 from the gateway, the upstream never reached.
        let missing = try await Self.get(gateway + "/orders/1", key: nil)
        #expect(missing.status == 401, "\(nginxLog())")
        #expect(missing.json["code"] == "UNAUTHENTICATED")
        #expect(missing.json["upstream"] == nil)

        // A valid key: the upstream answers, and sees who is calling (and not the key).
        let passed = try await Self.get(gateway + "/orders/1?expand=items", key: key)
        #expect(passed.status == 200, "\(nginxLog())")
        #expect(passed.json["upstream"] == .bool(true))
        let seen = passed.json["headers"]
        #expect(seen?["x-tronch-key-id"]?.string == id)
        #expect(seen?["x-tronch-owner-id"] == "cus_9")
        #expect(seen?["x-tronch-scopes"] == "orders:read")
        #expect(seen?["x-tronch-environment"] == "live")
        #expect(seen?["x-api-key"] == nil)
        #expect(passed.headers["RateLimit"].first == #""burst";r=2;t=20"#)

        // A route rule: writing orders needs orders:write, which this key lacks.
        let denied = try await Self.send("POST", gateway + "/orders", key: key)
        #expect(denied.status == 403)
        #expect(denied.headers["X-Tronch-Code"].first == "INSUFFICIENT_SCOPES")

        // Over the key's limit: 429 with Retry-After (the refused POST above spent nothing).
        #expect(try await Self.get(gateway + "/orders/2", key: key).status == 200)
        #expect(try await Self.get(gateway + "/orders/3", key: key).status == 200)
        let limited = try await Self.get(gateway + "/orders/4", key: key)
        #expect(limited.status == 429, "\(nginxLog())")
        #expect(limited.json["code"] == "RATE_LIMITED")
        #expect(Int(limited.headers["Retry-After"].first ?? "") ?? 0 >= 1)

        // Revoked: 401 at once (the revoking node drops its cache entry).
        let (revoked, _) = try await HTTP.call("DELETE", tronch.baseURL + "/api/v1/keys/\(id)", key: rootKey)
        #expect(revoked == 200)
        let afterRevoke = try await Self.get(gateway + "/orders/1", key: key)
        #expect(afterRevoke.status == 401)
        #expect(afterRevoke.headers["X-Tronch-Code"].first == "REVOKED")

        // Tronch down: the gateway refuses instead of letting requests through unchecked.
        #expect(try await tronch.terminate() == 0)
        let unchecked = try await Self.get(gateway + "/orders/1", key: key)
        #expect(unchecked.status == 503)
        #expect(unchecked.json["upstream"] == nil)
    }

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var json: JSONValue
    }

    static func get(_ url: String, key: String?) async throws -> Answer { try await send("GET", url, key: key) }

    static func send(_ method: String, _ url: String, key: String?) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let key { request.headers.add(name: "X-API-Key", value: key) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes.readableBytesView))) ?? .null
        return Answer(status: Int(response.status.code), headers: response.headers, json: json)
    }
}
