import Foundation
import HTTPTypes
import Testing
import TronchCore

@testable import TronchServer

/// Multi-factor authentication over HTTP: TOTP enrolment, the second step of a login, recovery codes,
/// disabling, and what is kept at rest.
@Suite struct MFATests {
    typealias Users = UsersTests

    /// The code an authenticator app shows for `secret` at the server's current time (+ `offset` seconds).
    static func code(_ secret: String, _ server: TestServer, offset: Double = 0) throws -> String {
        let seconds = Int64(server.clock.now.addingTimeInterval(offset).timeIntervalSince1970)
        return TOTP(secret: try #require(Base32.decode(secret))).code(at: seconds)
    }

    /// A user with TOTP enabled: returns their secret, recovery codes and an access token.
    static func enrolled(
        _ api: APIClient,
        _ server: TestServer,
        _ username: String
    ) async throws
        -> (secret: String, recovery: [String], token: String)
    {
        _ = try await Users.createUser(api, username)
        let token = try await Users.token(api, username)
        let enrolment = try await api.request(.post, "/api/v1/users/me/mfa/totp", key: token)
        #expect(enrolment.status == .ok, "\(enrolment.json)")
        let secret = try #require(enrolment["secret"]?.string)
        let confirmed = try await api.request(
            .post,
            "/api/v1/users/me/mfa/totp/confirm",
            key: token,
            json: ["code": .string(try code(secret, server))]
        )
        #expect(confirmed.status == .ok, "\(confirmed.json)")
        let recovery = try #require(confirmed["recovery_codes"]?.array?.compactMap { $0.string })
        return (secret, recovery, token)
    }

    @Test(arguments: ServerBackend.all) func enrolConfirmAndLogInWithASecondFactor(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            _ = try await Users.createUser(api, "tina")
            let token = try await Users.token(api, "tina")
            let enrolment = try await api.request(.post, "/api/v1/users/me/mfa/totp", key: token)
            let secret = try #require(enrolment["secret"]?.string)
            #expect(Base32.decode(secret)?.count == 20, "160 bits")
            #expect(!secret.contains("="))
            let uri = try #require(enrolment["otpauth_uri"]?.string)
            #expect(uri.hasPrefix("otpauth://totp/Tronch:tina?secret=\(secret)&issuer=Tronch"))
            #expect(try await api.request(.get, "/api/v1/users/me", key: token)["mfa_enabled"] == false, "pending until confirmed")

            let wrong = try await api.request(.post, "/api/v1/users/me/mfa/totp/confirm", key: token, json: ["code": "000000"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.code == "MFA_INVALID")
            let confirmCode = try Self.code(secret, server)
            let confirmed = try await api.request(.post, "/api/v1/users/me/mfa/totp/confirm", key: token, json: ["code": .string(confirmCode)])
            let recovery = try #require(confirmed["recovery_codes"]?.array?.compactMap { $0.string })
            #expect(recovery.count == 10)
            #expect(Set(recovery).count == 10)
            #expect(recovery.allSatisfy { $0.count == 19 && $0.split(separator: "-").count == 4 })
            #expect(try await api.request(.get, "/api/v1/users/me", key: token)["mfa_enabled"] == true)

            // The password alone is not a login any more.
            let first = try await Users.login(api, "tina")
            #expect(first.status == .unauthorized)
            #expect(first.code == "MFA_REQUIRED")
            #expect(first["methods"] == ["totp", "recovery_code"])
            let mfaToken = try #require(first["mfa_token"]?.string)
            #expect(first["access_token"] == nil)
            // The code that confirmed the enrolment counts as used.
            let replayed = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(mfaToken), "code": .string(confirmCode)]
            )
            #expect(replayed.code == "MFA_INVALID")
            server.clock.advance(seconds: 30)
            let done = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(mfaToken), "code": .string(try Self.code(secret, server))]
            )
            #expect(done.status == .ok, "\(done.json)")
            let access = try #require(done["access_token"]?.string)
            let claims = try JSONParser.parse(try #require(Base64URL.decode(String(access.split(separator: ".")[1]))))
            #expect(claims["amr"] == ["pwd", "otp"])
            #expect(
                try await api.request(.post, "/api/v1/auth/mfa", key: nil, json: ["mfa_token": .string(mfaToken), "code": "123456"]).code
                    == "MFA_INVALID",
                "the token is single use"
            )

            // A recovery code works once, and says so in amr.
            let second = try #require(try await Users.login(api, "tina")["mfa_token"]?.string)
            let byRecovery = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(second), "recovery_code": .string(recovery[0].uppercased())]
            )
            #expect(byRecovery.status == .ok)
            let recoveryClaims = try JSONParser.parse(
                try #require(Base64URL.decode(String(byRecovery["access_token"]!.string!.split(separator: ".")[1])))
            )
            #expect(recoveryClaims["amr"] == ["pwd", "recovery_code"])
            let third = try #require(try await Users.login(api, "tina")["mfa_token"]?.string)
            #expect(
                try await api.request(
                    .post,
                    "/api/v1/auth/mfa",
                    key: nil,
                    json: ["mfa_token": .string(third), "recovery_code": .string(recovery[0])]
                ).code
                    == "MFA_INVALID"
            )

            let audit = try await api.request(.get, "/api/v1/audit-logs?target_type=user")
            let actions = Set(audit["data"]?.array?.compactMap { $0["action"]?.string } ?? [])
            #expect(actions.isSuperset(of: ["mfa.enrolment_started", "mfa.enabled", "auth.mfa_challenged", "auth.mfa_failed"]))
        }
    }

    @Test func wrongCodesKillTheChallengeAndCountTowardTheLock() async throws {
        let server = TestServer(config: ["lockout.threshold": "7"])
        try await server.run { api async throws in
            let (secret, _, _) = try await Self.enrolled(api, server, "walt")
            let token = try #require(try await Users.login(api, "walt")["mfa_token"]?.string)
            for _ in 0..<5 {
                #expect(
                    try await api.request(.post, "/api/v1/auth/mfa", key: nil, json: ["mfa_token": .string(token), "code": "000000"]).code
                        == "MFA_INVALID"
                )
            }
            server.clock.advance(seconds: 30)
            let dead = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(token), "code": .string(try Self.code(secret, server))]
            )
            #expect(dead.code == "MFA_INVALID", "five failures end the challenge")
            // Five MFA failures and two wrong passwords make seven: locked.
            for _ in 0..<2 { _ = try await Users.login(api, "walt", password: "not the password") }
            #expect(try await Users.login(api, "walt").code == "INVALID_CREDENTIALS", "locked")
            let bad = try await api.request(.post, "/api/v1/auth/mfa", key: nil, json: ["mfa_token": "nope", "code": "123456"])
            #expect(bad.code == "MFA_INVALID")
            #expect(try await api.request(.post, "/api/v1/auth/mfa", key: nil, json: ["mfa_token": "x"]).status == .badRequest)
        }
    }

    @Test func recoveryCodesAreReplacedAndMFAIsDisabledWithAProof() async throws {
        let server = TestServer()
        try await server.run { api async throws in
            let (secret, recovery, token) = try await Self.enrolled(api, server, "rex")
            #expect(try await api.request(.post, "/api/v1/users/me/mfa/recovery-codes", key: token, json: ["code": "000000"]).code == "MFA_INVALID")
            server.clock.advance(seconds: 30)
            let renewed = try await api.request(
                .post,
                "/api/v1/users/me/mfa/recovery-codes",
                key: token,
                json: ["code": .string(try Self.code(secret, server))]
            )
            let fresh = try #require(renewed["recovery_codes"]?.array?.compactMap { $0.string })
            #expect(Set(fresh).isDisjoint(with: recovery))
            let challenge = try #require(try await Users.login(api, "rex")["mfa_token"]?.string)
            #expect(
                try await api.request(
                    .post,
                    "/api/v1/auth/mfa",
                    key: nil,
                    json: ["mfa_token": .string(challenge), "recovery_code": .string(recovery[1])]
                ).code
                    == "MFA_INVALID",
                "the old set died"
            )
            #expect(try await api.request(.post, "/api/v1/users/me/mfa/totp", key: token).status == .conflict, "already enabled")

            #expect(try await api.request(.delete, "/api/v1/users/me/mfa/totp", key: token, json: ["code": "000000"]).code == "MFA_INVALID")
            let disabled = try await api.request(.delete, "/api/v1/users/me/mfa/totp", key: token, json: ["recovery_code": .string(fresh[0])])
            #expect(disabled.status == .noContent)
            #expect(try await Users.login(api, "rex").status == .ok, "back to a password login")

            // An administrator's reset, for a user who lost every factor.
            let (_, _, _) = try await Self.enrolled(api, server, "liv")
            let liv = try #require(try await api.request(.get, "/api/v1/users?q=liv")["data"]?.array?.first?["id"]?.string)
            #expect(try await api.request(.delete, "/api/v1/users/\(liv)/mfa", key: token).status == .forbidden)
            #expect(try await api.request(.delete, "/api/v1/users/\(liv)/mfa").status == .noContent)
            #expect(try await Users.login(api, "liv").status == .ok)
            let reset = try await api.request(.get, "/api/v1/audit-logs?action=mfa.reset")
            #expect(reset["data"]?.array?.first?["target"]?["id"] == .string(liv))
        }
    }

    @Test func noSecretIsReadableInTheDatabaseFile() async throws {
        let directory = try Tronch.temporaryDirectory()
        let path = directory + "/tronch.sqlite"
        let server = TestServer(config: ["database.url": "sqlite://\(path)", "data.dir": directory])
        let secrets = try await server.run { api async throws -> [String] in
            let (secret, recovery, token) = try await Self.enrolled(api, server, "sue")
            let login = try await api.request(.post, "/api/v1/auth/login", key: nil, json: ["username": "sue", "password": .string(Users.password)])
            let mfaToken = try #require(login["mfa_token"]?.string)
            let seed = try #require(Base32.decode(secret))
            // The raw TOTP seed, as bytes, must not be there either.
            return [secret, String(secret.prefix(16)), Users.password, token, mfaToken, String(decoding: seed, as: UTF8.self)]
                + recovery + recovery.map(RecoveryCodes.normalize)
        }
        var bytes = Data()
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasPrefix("tronch.sqlite") {
            bytes.append(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
        }
        #expect(bytes.count > 10_000)
        let text = String(decoding: bytes, as: UTF8.self)
        for secret in secrets { #expect(!text.contains(secret), "a secret is readable in the database file") }
        #expect(!text.contains("BEGIN PRIVATE KEY") && !text.contains("BEGIN EC PRIVATE KEY"), "signing keys are sealed")
    }

    @Test func aRoleThatMustUseMFAEnrolsBeforeAnythingElse() async throws {
        let server = TestServer(config: ["mfa.requiredRoles": "admin"])
        try await server.run { api async throws in
            _ = try await Users.createUser(api, "ada", role: "admin")
            _ = try await Users.createUser(api, "mel")
            let token = try await Users.token(api, "ada")
            let refused = try await api.request(.get, "/api/v1/keys", key: token)
            #expect(refused.status == .forbidden)
            #expect(refused.code == "MFA_ENROLLMENT_REQUIRED")
            #expect(try await api.request(.get, "/api/v1/users/me", key: token).status == .ok)
            #expect(try await api.request(.get, "/api/v1/keys", key: try await Users.token(api, "mel")).status == .ok, "members are not bound")
            #expect(try await api.request(.get, "/api/v1/keys").status == .ok, "the root key belongs to no user")
            let enrolment = try await api.request(.post, "/api/v1/users/me/mfa/totp", key: token)
            let secret = try #require(enrolment["secret"]?.string)
            let confirmed = try await api.request(
                .post,
                "/api/v1/users/me/mfa/totp/confirm",
                key: token,
                json: ["code": .string(try Self.code(secret, server))]
            )
            #expect(confirmed.status == .ok)
            #expect(try await api.request(.get, "/api/v1/keys", key: token).status == .ok, "enrolled: everything else opens")
        }
    }

    static func adminBody(_ username: String) -> JSONValue {
        [
            "username": .string(username), "email": .string("\(username)@example.com"), "password": .string(Users.password),
            "role": "admin",
        ]
    }

    static func amr(_ accessToken: String) throws -> JSONValue? {
        try JSONParser.parse(try #require(Base64URL.decode(String(accessToken.split(separator: ".")[1]))))["amr"]
    }

    @Test(arguments: ServerBackend.all) func sensitiveActionsOfAPersonNeedASecondFactor(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let boss = try await Users.createUser(api, "boss", role: "admin")
            let plain = try await Users.token(api, "boss")

            // Without a second factor an administrator still does ordinary work, but cannot make another.
            let refused = try await api.request(.post, "/api/v1/users", key: plain, json: Self.adminBody("second"))
            #expect(refused.status == .forbidden)
            #expect(refused.code == "MFA_ENROLLMENT_REQUIRED")
            let adminKey = try await api.request(.post, "/api/v1/keys", key: plain, json: ["name": "all", "scopes": ["admin"]])
            #expect(adminKey.code == "MFA_ENROLLMENT_REQUIRED")
            let member = try await Users.createUser(api, "helper", as: plain)
            // Refusals that a second factor would not change come first: a member cannot grant admin at all, and
            // an invalid request is a 400.
            let memberAsks = try await api.request(
                .post,
                "/api/v1/keys",
                key: try await Users.token(api, "helper"),
                json: ["name": "all", "scopes": ["admin"]]
            )
            #expect(memberAsks.code == "FORBIDDEN")
            let invalid: JSONValue = ["username": "second", "email": "not an address", "password": .string(Users.password), "role": "admin"]
            #expect(try await api.request(.post, "/api/v1/users", key: plain, json: invalid).status == .badRequest)
            // Resetting the factor of someone who has none changes nothing and audits nothing.
            #expect(try await api.request(.delete, "/api/v1/users/\(member["id"]!.string!)/mfa").status == .noContent)
            #expect(try await api.request(.get, "/api/v1/audit-logs?action=mfa.reset")["data"]?.array?.isEmpty == true)
            let promote = try await api.request(.patch, "/api/v1/users/\(member["id"]!.string!)", key: plain, json: ["role": "admin"])
            #expect(promote.code == "MFA_ENROLLMENT_REQUIRED")
            #expect(try await api.request(.get, "/api/v1/users/\(member["id"]!.string!)", key: plain)["role"] == "member", "nothing changed")
            _ = try await api.createKey(["name": "reports", "scopes": ["reports:read"]], as: plain)
            // Keys are not people: the root key is never asked.
            _ = try await api.createKey(["name": "root's", "scopes": ["admin"]])

            // Enrolled during this session: its token still says only "pwd", so the action asks for a code.
            let enrolment = try await api.request(.post, "/api/v1/users/me/mfa/totp", key: plain)
            let secret = try #require(enrolment["secret"]?.string)
            let confirmed = try await api.request(
                .post,
                "/api/v1/users/me/mfa/totp/confirm",
                key: plain,
                json: ["code": .string(try Self.code(secret, server))]
            )
            #expect(confirmed.status == .ok)
            let challenge = try await api.request(.post, "/api/v1/users", key: plain, json: Self.adminBody("second"))
            #expect(challenge.status == .unauthorized)
            #expect(challenge.code == "MFA_REQUIRED")
            #expect(challenge["methods"] == ["totp", "recovery_code"])
            let mfaToken = try #require(challenge["mfa_token"]?.string)
            #expect(try await api.request(.get, "/api/v1/users?q=second")["data"]?.array?.isEmpty == true, "nothing was created")

            server.clock.advance(seconds: 30)
            let stepped = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(mfaToken), "code": .string(try Self.code(secret, server))]
            )
            #expect(stepped.status == .ok, "\(stepped.json)")
            let strong = try #require(stepped["access_token"]?.string)
            #expect(try Self.amr(strong) == ["pwd", "otp"])
            #expect(try Self.amr(plain) == ["pwd"])
            // The stronger session replaces the weaker one.
            #expect(try await api.request(.get, "/api/v1/users/me", key: plain).code == "TOKEN_INVALID")
            let sessions = try await api.request(.get, "/api/v1/sessions", key: strong)
            #expect(sessions["data"]?.array?.map { $0["id"] } == [stepped["session_id"]])

            #expect(try await api.request(.post, "/api/v1/users", key: strong, json: Self.adminBody("second")).status == .created)
            _ = try await api.createKey(["name": "all", "scopes": ["admin"]], as: strong)
            #expect(
                try await api.request(.patch, "/api/v1/users/\(member["id"]!.string!)", key: strong, json: ["role": "admin"]).status == .ok
            )
            let audit = try await api.request(.get, "/api/v1/audit-logs?action=auth.step_up")
            #expect(audit["data"]?.array?.first?["actor"]?["id"] == boss["id"])

            // Resetting another's second factor: a member may not at all; an administrator without one must enrol.
            _ = try await Users.createUser(api, "morgan")
            let bossMFA = "/api/v1/users/\(boss["id"]!.string!)/mfa"
            #expect(try await api.request(.delete, bossMFA, key: try await Users.token(api, "morgan")).status == .forbidden)
            #expect(try await api.request(.delete, bossMFA, key: try await Users.token(api, "helper")).code == "MFA_ENROLLMENT_REQUIRED")
            #expect(try await api.request(.get, "/api/v1/users/me", key: strong)["mfa_enabled"] == true)
            #expect(try await api.request(.delete, bossMFA, key: strong).status == .forbidden, "one's own goes only with a code")
            #expect(try await api.request(.delete, bossMFA).status == .noContent, "the root key resets an administrator's factor")
            let resets = try await api.request(.get, "/api/v1/audit-logs?action=mfa.reset")["data"]?.array ?? []
            #expect(resets.count == 1)
        }
    }

    @Test func aStepUpForAnEndedSessionIsRefused() async throws {
        let server = TestServer()
        try await server.run { api async throws in
            _ = try await Users.createUser(api, "kai", role: "admin")
            let token = try await Users.token(api, "kai")
            let enrolment = try await api.request(.post, "/api/v1/users/me/mfa/totp", key: token)
            let secret = try #require(enrolment["secret"]?.string)
            _ = try await api.request(.post, "/api/v1/users/me/mfa/totp/confirm", key: token, json: ["code": .string(try Self.code(secret, server))])
            let challenge = try await api.request(.post, "/api/v1/keys", key: token, json: ["name": "all", "scopes": ["admin"]])
            let mfaToken = try #require(challenge["mfa_token"]?.string, "\(challenge.json)")
            #expect(try await api.request(.post, "/api/v1/auth/logout", key: token).status == .noContent)
            server.clock.advance(seconds: 30)
            let late = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(mfaToken), "code": .string(try Self.code(secret, server))]
            )
            #expect(late.code == "MFA_INVALID", "the session it would replace is gone")
        }
    }

    @Test func stepUpCanBeTurnedOff() async throws {
        try await TestServer(config: ["mfa.stepUp": "false"]).run { api async throws in
            _ = try await Users.createUser(api, "olga", role: "admin")
            let token = try await Users.token(api, "olga")
            #expect(try await api.request(.post, "/api/v1/users", key: token, json: Self.adminBody("pete")).status == .created)
        }
    }

    @Test func wrongCodesOutsideTheLoginCountTooAndReplaysAreAuditedAsSuch() async throws {
        let server = TestServer(config: ["lockout.threshold": "3"])
        try await server.run { api async throws in
            let (secret, _, token) = try await Self.enrolled(api, server, "rex")
            // The code that confirmed the enrolment, sent again: refused, and audited as a replay.
            let mfaToken = try #require(try await Users.login(api, "rex")["mfa_token"]?.string)
            let replay = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(mfaToken), "code": .string(try Self.code(secret, server))]
            )
            #expect(replay.code == "MFA_INVALID")
            let failed = try await api.request(.get, "/api/v1/audit-logs?action=auth.mfa_failed")
            #expect(failed["data"]?.array?.first?["details"]?["replay"] == true)
            #expect(failed["data"]?.array?.first?["details"]?["during"] == "login")

            // Wrong codes to regenerate and to disable count as well: the third failure locks the account.
            let regenerate = try await api.request(.post, "/api/v1/users/me/mfa/recovery-codes", key: token, json: ["code": "000000"])
            #expect(regenerate.code == "MFA_INVALID")
            let disable = try await api.request(.delete, "/api/v1/users/me/mfa/totp", key: token, json: ["code": "000000"])
            #expect(disable.code == "MFA_INVALID")
            let lockEntries = try await api.request(.get, "/api/v1/audit-logs?action=user.locked")["data"]?.array
            #expect(lockEntries?.count == 1)
            #expect(lockEntries?.first?["actor"]?["kind"] == "system" && lockEntries?.first?["details"]?["lockouts"] == 1, "\(lockEntries ?? [])")
            #expect(lockEntries?.first?["details"]?["until"]?.string.flatMap(Timestamp.parse) != nil)
            // Locked: not even the right code is looked at, and the password does not log in.
            server.clock.advance(seconds: 30)
            let locked = try await api.request(
                .delete,
                "/api/v1/users/me/mfa/totp",
                key: token,
                json: ["code": .string(try Self.code(secret, server))]
            )
            #expect(locked.code == "MFA_INVALID")
            #expect(try await api.request(.get, "/api/v1/users/me", key: token)["mfa_enabled"] == true)
            #expect(try await Users.login(api, "rex").code == "INVALID_CREDENTIALS")
            let during = try await api.request(.get, "/api/v1/audit-logs?action=auth.mfa_failed")["data"]?.array?.compactMap {
                $0["details"]?["during"]?.string
            }
            #expect(during == ["disable", "regenerate", "login"])
        }
    }
}
