import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TronchCore
import TronchTestSupport

@testable import TronchServer

/// TLS in Tronch (a real TLS client: curl and Python's ssl, trusting a test CA made with openssl) and
/// `TRONCH_REQUIRE_HTTPS` behind a proxy.
@Suite struct TLSTests {
    /// A CA and two server certificates it signed (`a` and `b`, for 127.0.0.1 and localhost), in `directory`.
    static func makeCertificates(in directory: String) async throws {
        func openssl(_ arguments: [String]) async throws {
            let result = try await ChildProcess.run("/usr/bin/openssl", arguments, directory: directory)
            #expect(result.status == 0, "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        try await openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=tronch test CA",
        ])
        try Data("subjectAltName=IP:127.0.0.1,DNS:localhost\n".utf8).write(to: URL(fileURLWithPath: directory + "/san.ext"))
        for name in ["a", "b"] {
            try await openssl([
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key",
                "-out", "\(name).csr", "-subj", "/CN=tronch-\(name)",
            ])
            try await openssl([
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "\(name).pem", "-days", "2", "-extfile", "san.ext",
            ])
        }
        for file in ["a.pem", "a.key"] {
            try FileManager.default.copyItem(atPath: directory + "/" + file, toPath: directory + "/server." + file.split(separator: ".")[1])
        }
    }

    @Test func tronchServesTLSAndReloadsItsCertificateOnSIGHUPKeepingOpenConnections() async throws {
        let directory = try Tronch.temporaryDirectory()
        try await Self.makeCertificates(in: directory)
        let port = try Tronch.freePort()
        let server = try ServerProcess(
            arguments: [],
            environment: ["TRONCH_TLS_CERT_FILE": directory + "/server.pem", "TRONCH_TLS_KEY_FILE": directory + "/server.key"],
            directory: directory,
            port: port
        )
        try await server.waitUntilReady()
        // curl, trusting the test CA: the health route over HTTPS, with HSTS on every answer.
        let curl = try await ChildProcess.run(
            "/usr/bin/curl",
            ["-sS", "-D", "-", "-o", "/dev/null", "--cacert", directory + "/ca.pem", "https://127.0.0.1:\(port)/api/v1/health"]
        )
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(curl.stdout.hasPrefix("HTTP/1.1 200"), "\(curl.stdout)")
        #expect(curl.stdout.lowercased().contains("strict-transport-security: max-age=31536000"), "\(curl.stdout)")
        // Plain HTTP to the TLS port gets no answer.
        let plain = try await ChildProcess.run("/usr/bin/curl", ["-sS", "-m", "5", "http://127.0.0.1:\(port)/api/v1/health"])
        #expect(plain.status != 0)

        // One connection opened with certificate a; then b replaces the files, SIGHUP; the open connection keeps
        // working, a new one gets b. Then files that do not load: the reload is refused and b stays.
        let script = """
            import http.client, json, os, shutil, signal, ssl, sys, time
            d, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            ctx = ssl.create_default_context(cafile=d + "/ca.pem")
            def cn(conn):
                cert = conn.sock.getpeercert()
                return dict(x[0] for x in cert["subject"])["commonName"]
            def get(conn):
                conn.request("GET", "/api/v1/health"); r = conn.getresponse(); r.read(); return r.status
            out = {}
            first = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
            out["first"] = [get(first), cn(first)]
            shutil.copy(d + "/b.pem", d + "/server.pem"); shutil.copy(d + "/b.key", d + "/server.key")
            os.kill(pid, signal.SIGHUP); time.sleep(1.0)
            out["same_connection"] = [get(first), cn(first)]
            second = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
            out["new_connection"] = [get(second), cn(second)]
            open(d + "/server.pem", "w").write("not a certificate")
            os.kill(pid, signal.SIGHUP); time.sleep(1.0)
            third = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
            out["after_bad_files"] = [get(third), cn(third)]
            print(json.dumps(out))
            """
        let python = try await ChildProcess.run(
            "/usr/bin/env",
            ["python3", "-c", script, directory, String(port), String(server.pid)]
        )
        #expect(python.status == 0, "\(python.stderr)")
        let result = try JSONDecoder().decode([String: [JSONValue]].self, from: Data(python.stdout.utf8))
        #expect(result["first"] == [200, "tronch-a"])
        #expect(result["same_connection"] == [200, "tronch-a"], "the open connection keeps its certificate")
        #expect(result["new_connection"] == [200, "tronch-b"], "a new connection gets the reloaded one")
        #expect(result["after_bad_files"] == [200, "tronch-b"], "files that do not load leave the current certificate")
        #expect(server.stderr.contains("reloaded the TLS certificate"))
        #expect(server.stderr.contains("the TLS certificate did not reload"))
        #expect(try await server.terminate() == 0)
    }

    @Test func filesThatDoNotLoadStopStartUp() async throws {
        let directory = try Tronch.temporaryDirectory()
        try await Self.makeCertificates(in: directory)
        let mismatched = try await Tronch.run(
            ["serve", "--port", String(try Tronch.freePort())],
            environment: [
                "TRONCH_TLS_CERT_FILE": directory + "/a.pem", "TRONCH_TLS_KEY_FILE": directory + "/b.key", "TRONCH_DATA_DIR": directory + "/data",
            ]
        )
        #expect(mismatched.status != 0)
        #expect(mismatched.stderr.contains("TRONCH_TLS_KEY_FILE"), "\(mismatched.stderr)")
        let missing = try await Tronch.run(
            ["serve", "--port", String(try Tronch.freePort())],
            environment: [
                "TRONCH_TLS_CERT_FILE": directory + "/nope.pem", "TRONCH_TLS_KEY_FILE": directory + "/a.key", "TRONCH_DATA_DIR": directory + "/data",
            ]
        )
        #expect(missing.status != 0 && missing.stderr.contains("TRONCH_TLS_CERT_FILE"), "\(missing.stderr)")
        #expect(throws: ConfigurationError(key: "TRONCH_TLS_KEY_FILE", "")) {
            _ = try Settings(reader: TestServer.reader(["tls.certFile": "/x.pem"]))
        }
        #expect(throws: ConfigurationError(key: "TRONCH_REQUIRE_HTTPS", "")) {
            _ = try Settings(reader: TestServer.reader(["requireHttps": "always"]))
        }
    }

    static let proto = HTTPField.Name("X-Forwarded-Proto")!
    static let forwarded = HTTPField.Name("Forwarded")!

    @Test func behindAProxyPlainRequestsAreRefusedOrRedirectedButHealthAnswers() async throws {
        let refuse = TestServer(config: ["http.trustedProxies": "127.0.0.1/32, ::1/128", "requireHttps": "refuse"])
        try await refuse.run(.live) { api async throws in
            let plain = try await api.request(.get, "/api/v1/keys", headers: [Self.proto: "http"])
            #expect(plain.status == .forbidden)
            #expect(plain.code == "HTTPS_REQUIRED")
            let unsaid = try await api.request(.get, "/api/v1/keys")
            #expect(unsaid.code == "HTTPS_REQUIRED", "no proxy said HTTPS")
            for path in ["/api/v1/health", "/api/v1/health/ready"] {
                #expect(try await api.request(.get, path, key: nil, headers: [Self.proto: "http"]).status == .ok, "\(path)")
            }
            #expect(try await api.request(.get, "/api/v1/keys", headers: [Self.proto: "https"]).status == .ok)
            // RFC 7239 `Forwarded` counts too when X-Forwarded-Proto is absent.
            #expect(try await api.request(.get, "/api/v1/keys", headers: [Self.forwarded: "for=203.0.113.9;proto=https"]).status == .ok)
            #expect(try await api.request(.get, "/api/v1/keys", headers: [Self.forwarded: "for=203.0.113.9;proto=http"]).code == "HTTPS_REQUIRED")
        }
        let redirect = TestServer(config: ["http.trustedProxies": "127.0.0.1/32, ::1/128", "requireHttps": "redirect"])
        try await redirect.run(.live) { api async throws in
            let moved = try await api.request(.post, "/api/v1/keys?x=1", json: [:], headers: [Self.proto: "http"])
            #expect(moved.status == .permanentRedirect)
            let location = try #require(moved.headers[.location])
            #expect(location.hasPrefix("https://") && location.hasSuffix("/api/v1/keys?x=1"), "\(location)")
            #expect(try await api.request(.get, "/api/v1/health", key: nil, headers: [Self.proto: "http"]).status == .ok)
        }
        // A client that is not a trusted proxy cannot claim HTTPS for itself.
        try await TestServer(config: ["http.trustedProxies": "10.0.0.0/8", "requireHttps": "refuse"]).run(.live) { api async throws in
            #expect(try await api.request(.get, "/api/v1/keys", headers: [Self.proto: "https"]).code == "HTTPS_REQUIRED")
        }
    }

    @Test func forwardedElementsAreRead() {
        let elements = ClientAddressMiddleware.forwardedElements(
            #"for=192.0.2.60;proto=https;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", for=198.51.100.9:80;proto=http, for=unknown"#
        )
        #expect(elements.map(\.for) == ["192.0.2.60", "2001:db8:cafe::17", "198.51.100.9", "unknown"])
        #expect(elements.map(\.proto) == ["https", nil, "http", nil])
        #expect(!HTTPSRequirementMiddleware.isHost("evil.example/@x") && HTTPSRequirementMiddleware.isHost("[::1]:8443"))
    }
}
