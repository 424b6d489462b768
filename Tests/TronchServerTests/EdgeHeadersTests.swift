import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TronchCore

@testable import TronchServer

/// Security headers on every answer, HSTS only over HTTPS, and CORS only for the origins configured.
@Suite struct EdgeHeadersTests {
    static let origin = HTTPField.Name("Origin")!
    static let requestMethod = HTTPField.Name("Access-Control-Request-Method")!
    static let requestHeaders = HTTPField.Name("Access-Control-Request-Headers")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    static func expectSecurityHeaders(_ response: APIResponse, _ what: String) {
        #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(what)")
        #expect(response.headers[.referrerPolicy] == "no-referrer", "\(what)")
        #expect(response.headers[.contentSecurityPolicy] == "default-src 'none'; frame-ancestors 'none'", "\(what)")
    }

    @Test func everyAnswerCarriesTheSecurityHeaders() async throws {
        try await TestServer().run { api async throws in
            Self.expectSecurityHeaders(try await api.request(.get, "/api/v1/health", key: nil), "health")
            Self.expectSecurityHeaders(try await api.request(.get, "/api/v1/keys", key: nil), "a 401")
            Self.expectSecurityHeaders(try await api.request(.get, "/api/v1/nothing-here"), "a 404 of no route")
            Self.expectSecurityHeaders(try await api.request(.post, "/api/v1/keys", raw: "{"), "a 400")
            Self.expectSecurityHeaders(try await api.request(.get, "/.well-known/jwks.json", key: nil), "the key set")
            let verified = try await api.verify("tronch_sk_live_nonsense")
            Self.expectSecurityHeaders(verified, "verification")
            #expect(verified.headers[.strictTransportSecurity] == nil, "plain HTTP gets no HSTS")
            #expect(verified.headers[.accessControlAllowOrigin] == nil, "CORS is off by default")
            let preflight = try await api.request(
                .options,
                "/api/v1/keys",
                key: nil,
                headers: [Self.origin: "https://app.example.com", Self.requestMethod: "GET"]
            )
            #expect(preflight.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func hstsOnlyWhenATrustedProxySaysHTTPS() async throws {
        let server = TestServer(config: ["http.trustedProxies": "127.0.0.1/32, ::1/128", "hsts.maxAge": "600"])
        try await server.run(.live) { api async throws in
            let https = try await api.request(.get, "/api/v1/health", key: nil, headers: [Self.forwardedProto: "https"])
            #expect(https.headers[.strictTransportSecurity] == "max-age=600")
            let chained = try await api.request(.get, "/api/v1/health", key: nil, headers: [Self.forwardedProto: "HTTPS, http"])
            #expect(chained.headers[.strictTransportSecurity] == "max-age=600", "the first value is the client's side")
            let plain = try await api.request(.get, "/api/v1/health", key: nil, headers: [Self.forwardedProto: "http"])
            #expect(plain.headers[.strictTransportSecurity] == nil)
        }
        // From a peer that is not a trusted proxy the header is the client's own claim.
        try await TestServer(config: ["http.trustedProxies": "10.0.0.0/8"]).run(.live) { api async throws in
            let spoofed = try await api.request(.get, "/api/v1/health", key: nil, headers: [Self.forwardedProto: "https"])
            #expect(spoofed.headers[.strictTransportSecurity] == nil)
        }
    }

    @Test func corsAnswersTheConfiguredOriginsOnly() async throws {
        let server = TestServer(config: [
            "cors.allowedOrigins": "https://app.example.com, http://LOCALHOST:3000", "cors.maxAge": "120",
        ])
        try await server.run { api async throws in
            let preflight = try await api.request(
                .options,
                "/api/v1/keys",
                key: nil,
                headers: [Self.origin: "https://app.example.com", Self.requestMethod: "POST", Self.requestHeaders: "authorization, content-type"]
            )
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(preflight.headers[.accessControlAllowMethods] == "GET, POST, PUT, PATCH, DELETE")
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            #expect(preflight.headers[.accessControlMaxAge] == "120")
            #expect(preflight.headers[.accessControlAllowCredentials] == nil)
            #expect(preflight.headers[values: .vary].contains("Origin"))

            let actual = try await api.request(.get, "/api/v1/keys", headers: [Self.origin: "http://localhost:3000"])
            #expect(actual.status == .ok)
            #expect(actual.headers[.accessControlAllowOrigin] == "http://localhost:3000")
            #expect(actual.headers[.accessControlExposeHeaders]?.contains("X-Request-Id") == true)
            let problem = try await api.request(.get, "/api/v1/keys", key: nil, headers: [Self.origin: "https://app.example.com"])
            #expect(problem.status == .unauthorized)
            #expect(problem.headers[.accessControlAllowOrigin] == "https://app.example.com", "a page can read its errors")

            let refused = try await api.request(
                .options,
                "/api/v1/keys",
                key: nil,
                headers: [Self.origin: "https://evil.example", Self.requestMethod: "GET"]
            )
            #expect(refused.headers[.accessControlAllowOrigin] == nil)
            #expect(refused.headers[.accessControlAllowMethods] == nil)
            #expect(refused.status != .noContent)
            let refusedActual = try await api.request(.get, "/api/v1/keys", headers: [Self.origin: "https://app.example.com.evil.example"])
            #expect(refusedActual.headers[.accessControlAllowOrigin] == nil)

            // The gateway check judges the client's request, not a browser's call to Tronch.
            let gateway = try await api.request(
                .options,
                "/api/v1/auth/check",
                key: nil,
                headers: [Self.origin: "https://app.example.com", Self.requestMethod: "GET"]
            )
            #expect(gateway.headers[.accessControlAllowOrigin] == nil)
            #expect(gateway.status == .unauthorized)
        }
    }

    @Test func aWildcardWithCredentialsIsRefused() async throws {
        try await TestServer(config: ["cors.allowedOrigins": "*"]).run { api async throws in
            let any = try await api.request(.get, "/api/v1/health", key: nil, headers: [Self.origin: "https://anywhere.example"])
            #expect(any.headers[.accessControlAllowOrigin] == "*")
        }
        try await TestServer(config: ["cors.allowedOrigins": "https://app.example.com", "cors.allowCredentials": "true"]).run { api async throws in
            let answer = try await api.request(.get, "/api/v1/health", key: nil, headers: [Self.origin: "https://app.example.com"])
            #expect(answer.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(answer.headers[.accessControlAllowCredentials] == "true")
        }
        for (settings, variable) in [
            (["cors.allowedOrigins": "*", "cors.allowCredentials": "true"], "TRONCH_CORS_ALLOW_CREDENTIALS"),
            (["cors.allowedOrigins": "https://app.example.com/path"], "TRONCH_CORS_ALLOWED_ORIGINS"),
            (["cors.allowedOrigins": "app.example.com"], "TRONCH_CORS_ALLOWED_ORIGINS"),
            (["cors.allowedOrigins": "https://a.example", "cors.allowedMethods": "get"], "TRONCH_CORS_ALLOWED_METHODS"),
            (["cors.allowedOrigins": "https://a.example", "cors.allowedHeaders": "X Bad"], "TRONCH_CORS_ALLOWED_HEADERS"),
            (["cors.allowedOrigins": "https://a.example", "cors.maxAge": "-1"], "TRONCH_CORS_MAX_AGE"),
            (["hsts.maxAge": "-5"], "TRONCH_HSTS_MAX_AGE"),
        ] {
            #expect(throws: ConfigurationError(key: variable, "")) { _ = try Settings(reader: TestServer.reader(settings)) }
        }
    }
}
