import Foundation
import HTTPTypes
import Testing
import TronchCore
import TronchTestSupport

@testable import TronchServer

@Suite struct LoggingTests {
    /// Drives every route at trace level, in both log formats, and searches the output for key material.
    @Test(arguments: ["text", "json"])
    func noKeyOrPepperEverReachesTheLog(format: String) async throws {
        // An unreachable Redis whose URL holds a password: the connection errors are logged, the password not.
        let redisPassword = "redis-password-\(UUID().uuidString)"
        let server = TestServer(config: [
            "log.level": "trace", "log.format": format, "auth.queryParameter": "true",
            "redis.url": "redis://tronch:\(redisPassword)@127.0.0.1:\(try TestPorts.free())/2", "redis.timeout": "0.05",
        ])
        let secrets = try await server.run { api async throws in
            var secrets = [TestServer.rootKey, TestServer.pepper, redisPassword]
            let created = try await api.createKey(["name": "logged", "scopes": ["a:b"]])
            let secret = created["key"]!.string!
            secrets.append(secret)
            let id = created["id"]!.string!
            _ = try await api.verify(secret)
            _ = try await api.verify(secret + "x")
            _ = try await api.request(.get, "/api/v1/keys?api_key=\(TestServer.rootKey)", key: nil)
            _ = try await api.request(.get, "/api/v1/keys", key: secret)
            _ = try await api.request(.get, "/api/v1/keys", key: nil, headers: [.init("X-API-Key")!: secret])
            _ = try await api.request(.patch, "/api/v1/keys/\(id)", json: ["name": "renamed"])
            let rotated = try await api.request(.post, "/api/v1/keys/\(id)/rotate", json: ["grace_period_seconds": 10])
            secrets.append(rotated["key"]!.string!)
            _ = try await api.request(.delete, "/api/v1/keys/\(rotated["id"]!.string!)")
            _ = try await api.request(.post, "/api/v1/keys", raw: "{\"name\": \"\(secret)\"")
            _ = try await api.request(.get, "/api/v1/nowhere/\(secret)")
            _ = try await api.request(.get, "/api/v1/audit-logs")
            _ = try await api.request(.get, "/api/v1/keys/\(id)/usage")
            _ = try await api.request(.get, "/api/v1/metrics", key: secret)
            _ = try await api.request(.get, "/api/v1/keys/\(secret)/usage")
            // People: passwords, e-mail addresses and tokens never appear either.
            let password = "entered secret \(UUID().uuidString)"
            let email = "logged-\(UUID().uuidString.prefix(8))@example.com"
            _ = try await api.request(.post, "/api/v1/users", json: ["username": "logged", "email": .string(email), "password": .string(password)])
            let login = try await api.request(.post, "/api/v1/auth/login", key: nil, json: ["email": .string(email), "password": .string(password)])
            let access = try #require(login["access_token"]?.string, "\(login.status) \(login.json)")
            let refresh = try #require(login["refresh_token"]?.string)
            _ = try await api.request(.post, "/api/v1/auth/login", key: nil, json: ["username": "logged", "password": .string(password + "x")])
            _ = try await api.request(.get, "/api/v1/users/me", key: access)
            _ = try await api.request(.get, "/api/v1/users/me", key: refresh)
            _ = try await api.request(.get, "/api/v1/users/me", key: access + "x")
            _ = try await api.request(
                .post,
                "/api/v1/users/me/password",
                key: access,
                json: ["current_password": .string(password), "new_password": .string(password + " new")]
            )
            secrets += [password, email, access, String(access.split(separator: ".")[2]), refresh]
            // Second factors: the TOTP secret, its URI, codes, recovery codes and mfa_tokens never appear.
            let newPassword = password + " new"
            let freshLogin = try await api.request(
                .post,
                "/api/v1/auth/login",
                key: nil,
                json: ["username": "logged", "password": .string(newPassword)]
            )
            let fresh = try #require(freshLogin["access_token"]?.string, "\(freshLogin.json)")
            let enrolment = try await api.request(.post, "/api/v1/users/me/mfa/totp", key: fresh)
            let totpSecret = try #require(enrolment["secret"]?.string)
            let uri = try #require(enrolment["otpauth_uri"]?.string)
            let seconds = Int64(server.clock.now.timeIntervalSince1970)
            let code = TOTP(secret: try #require(Base32.decode(totpSecret))).code(at: seconds)
            _ = try await api.request(.post, "/api/v1/users/me/mfa/totp/confirm", key: fresh, json: ["code": "999999"])
            let confirmed = try await api.request(.post, "/api/v1/users/me/mfa/totp/confirm", key: fresh, json: ["code": .string(code)])
            let recovery = try #require(confirmed["recovery_codes"]?.array?.compactMap { $0.string })
            let challenge = try await api.request(
                .post,
                "/api/v1/auth/login",
                key: nil,
                json: ["username": "logged", "password": .string(newPassword)]
            )
            let mfaToken = try #require(challenge["mfa_token"]?.string)
            _ = try await api.request(.post, "/api/v1/auth/mfa", key: nil, json: ["mfa_token": .string(mfaToken), "code": .string(code)])
            _ = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(mfaToken), "recovery_code": .string(recovery[0])]
            )
            _ = try await api.request(.post, "/api/v1/users/me/mfa/recovery-codes", key: fresh, json: ["recovery_code": .string(recovery[1])])
            secrets += [totpSecret, uri, mfaToken, String(mfaToken.dropFirst(4))] + recovery + recovery.map(RecoveryCodes.normalize)
            try await Task.sleep(for: .milliseconds(300))
            return secrets
        }
        let log = server.logs.text
        #expect(server.logs.count > 10, "the test must actually produce log lines")
        #expect(log.contains("cannot connect to Redis"), "the Redis URL was in use")
        for secret in secrets {
            #expect(!log.contains(secret), "a secret reached the log")
            // The random part alone is the secret too (for those long enough to have a prefix and a random part).
            if secret.count >= 35 { #expect(!log.contains(String(secret.dropFirst(15).prefix(20)))) }
        }
    }

    @Test func jsonLinesAreJSONWithTheRequestID() async throws {
        let server = TestServer(config: ["log.level": "debug", "log.format": "json"])
        try await server.run { api async throws in
            _ = try await api.request(.get, "/api/v1/health", key: nil, headers: [.init("X-Request-Id")!: "trace-me-1"])
        }
        let lines = server.logs.text.split(separator: "\n")
        let parsed = try lines.map { try JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        #expect(parsed.allSatisfy { $0["ts"] != nil && $0["level"] != nil && $0["msg"] != nil })
        #expect(parsed.contains { $0["request_id"] == "trace-me-1" && $0["route"] == "/api/v1/health" && $0["status"] == "200" })
    }
}
