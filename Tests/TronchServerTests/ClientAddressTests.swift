import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TronchCore

@testable import TronchServer

/// The client's address behind trusted proxies, and only behind them.
@Suite struct ClientAddressTests {
    static let forwarded = HTTPField.Name("X-Forwarded-For")!

    @Test func theRightmostUntrustedHopIsTheClient() throws {
        let trusted = [try CIDR(parsing: "10.0.0.0/8")]
        func client(_ header: String) -> String? {
            ClientAddressMiddleware.client(in: header, peer: IPAddress("10.0.0.1")!) { address in
                trusted.contains { $0.contains(address) }
            }?.description
        }
        #expect(client("203.0.113.9") == "203.0.113.9")
        #expect(client("198.51.100.1, 203.0.113.9, 10.1.2.3") == "203.0.113.9", "a client cannot prepend its own choice")
        #expect(client("10.9.9.9") == "10.9.9.9")
        #expect(client("2001:db8::1") == "2001:db8::1")
        #expect(client("garbage, 10.1.2.3") == nil)
    }

    /// A peer's address read from its socket address's bytes is the address its text form names.
    @Test(arguments: ["127.0.0.1", "203.0.113.9", "255.255.255.255", "0.0.0.0", "::1", "2001:db8::8a2e:370:7334", "::ffff:192.0.2.1", "fe80::1"])
    func aSocketAddressReadsAsItsText(_ text: String) throws {
        let socket = try SocketAddress(ipAddress: text, port: 443)
        #expect(IPAddress(socket) == IPAddress(text))
        #expect(IPAddress(socket)?.description == IPAddress(text)?.description)
    }

    @Test func aUnixSocketHasNoAddress() throws {
        #expect(IPAddress(try SocketAddress(unixDomainSocketPath: "/tmp/tronch.sock")) == nil)
    }

    @Test func forwardedAddressesCountOnlyFromTrustedProxies() async throws {
        let server = TestServer(config: ["http.trustedProxies": "127.0.0.1/32, ::1/128", "ratelimit.authFailures": "2/1m"])
        try await server.run(.live) { api async throws in
            let wrong = KeyFormat(prefix: "tronch")!.generate(environment: .live)
            // Two clients behind the proxy have a failure budget each.
            for client in ["203.0.113.1", "203.0.113.2"] {
                for _ in 0..<2 {
                    let response = try await api.request(.get, "/api/v1/keys", key: wrong, headers: [Self.forwarded: client])
                    #expect(response.status == .unauthorized)
                }
            }
            let third = try await api.request(.get, "/api/v1/keys", key: wrong, headers: [Self.forwarded: "203.0.113.1"])
            #expect(third.status == .tooManyRequests)
            let audit = try await api.request(.get, "/api/v1/audit-logs?action=auth.failed&limit=1")
            #expect(audit["data"]?.array?.first?["client_ip"] == "203.0.113.1")
        }
        try await TestServer().run(.live) { api async throws in
            _ = try await api.request(.get, "/api/v1/keys", key: nil, headers: [Self.forwarded: "203.0.113.1"])
            let audit = try await api.request(.get, "/api/v1/audit-logs?action=auth.failed&limit=1")
            let address = audit["data"]?.array?.first?["client_ip"]?.string
            #expect(address == "127.0.0.1" || address == "::1", "without a trusted proxy the header is ignored")
        }
        #expect(throws: ConfigurationError(key: "TRONCH_HTTP_TRUSTED_PROXIES", "")) {
            _ = try Settings(reader: TestServer.reader(["http.trustedProxies": "10.0.0.0/33"]))
        }
    }
}
