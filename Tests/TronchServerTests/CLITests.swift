import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TronchCLI
import TronchCore
import TronchStorage
import TronchTestSupport

@testable import TronchServer

/// The `tronch` binary against a live server started in the test.
@Suite(.timeLimit(.minutes(3))) struct CLITests {
    func withLiveServer(_ body: @Sendable @escaping (_ environment: [String: String]) async throws -> Void) async throws {
        let app = try await buildApplication(reader: TestServer.reader(), options: TestServer().options())
        try await app.test(.live) { client in
            let port = try #require(client.port)
            try await body(["TRONCH_URL": "http://127.0.0.1:\(port)", "TRONCH_API_KEY": TestServer.rootKey])
        }
    }

    @Test func secretEnvironmentVariablesAreRedactedWhenConfigurationIsPrinted() {
        let secrets = [
            "TRONCH_KEY_PEPPER": "pepper-\(UUID().uuidString)",
            "TRONCH_BOOTSTRAP_ROOT_KEY": "root-\(UUID().uuidString)",
            "TRONCH_DATABASE_URL": "postgres://tronch:db-\(UUID().uuidString)@db/tronch",
            "TRONCH_REDIS_URL": "redis://:redis-\(UUID().uuidString)@cache:6379/0",
            "TRONCH_SECRETS_KEY": "c2VjcmV0cy\(UUID().uuidString)",
        ]
        let printed = ConfigurationSources.environmentProvider(secrets.merging(["TRONCH_PORT": "8081"]) { $1 })
            .debugDescription
        #expect(printed.contains("TRONCH_PORT=8081"))
        for (name, value) in secrets {
            #expect(printed.contains("\(name)=<REDACTED>"))
            #expect(!printed.contains(value), "\(name) printed in clear")
        }
    }

    @Test func keyLifecycleFromTheCommandLine() async throws {
        try await withLiveServer { env in
            let created = try await Tronch.run(
                [
                    "keys", "create", "--name", "cli key", "--owner", "cus_9", "--scope", "orders:read", "--scope", "orders:write",
                    "--meta", #"{"plan":"pro"}"#, "--ratelimit", "api:100/60:150", "--allowed-ip", "10.0.0.0/8", "--json",
                ],
                environment: env
            )
            #expect(created.status == 0, "\(created.stderr)")
            let key = try JSONDecoder().decode(JSONValue.self, from: Data(created.stdout.utf8))
            let id = try #require(key["id"]?.string)
            let secret = try #require(key["key"]?.string)
            #expect(key["scopes"] == ["orders:read", "orders:write"])
            #expect(key["ratelimits"] == [["name": "api", "limit": 100, "period_seconds": 60, "burst": 150]])

            let table = try await Tronch.run(["keys", "list"], environment: env)
            #expect(table.status == 0)
            #expect(table.stdout.contains("ID") && table.stdout.contains("cli key") && table.stdout.contains("cus_9"))
            #expect(!table.stdout.contains(secret), "a list never shows secrets")

            let shown = try await Tronch.run(["keys", "show", id], environment: env)
            #expect(shown.stdout.contains("orders:read orders:write"))
            #expect(shown.stdout.contains("10.0.0.0/8"))

            let verified = try await Tronch.run(["keys", "verify", secret, "--scope", "orders:read", "--ip", "10.1.1.1"], environment: env)
            #expect(verified.status == 0)
            #expect(verified.stdout.hasPrefix("VALID"))
            let wrongScope = try await Tronch.run(["keys", "verify", secret, "--scope", "admin:x", "--ip", "10.1.1.1"], environment: env)
            #expect(wrongScope.status != 0)
            #expect(wrongScope.stdout.hasPrefix("INSUFFICIENT_SCOPES"))

            try await Task.sleep(for: .milliseconds(300))
            let usage = try await Tronch.run(["keys", "usage", id, "--granularity", "day"], environment: env)
            #expect(usage.status == 0, "\(usage.stderr)")
            #expect(usage.stdout.contains("total verifications: INSUFFICIENT_SCOPES=1 VALID=1"), "\(usage.stdout)")

            let audit = try await Tronch.run(["audit", "list", "--action", "key.created"], environment: env)
            #expect(audit.status == 0, "\(audit.stderr)")
            #expect(audit.stdout.contains("key.created") && audit.stdout.contains(id))
            let export = try await Tronch.run(["audit", "export", "--format", "jsonl"], environment: env)
            let lines = export.stdout.split(separator: "\n")
            #expect(lines.count >= 3)
            #expect(lines.allSatisfy { (try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)))?["hash"] != nil })

            let updated = try await Tronch.run(["keys", "update", id, "--name", "renamed", "--disable", "--json"], environment: env)
            #expect(updated.status == 0, "\(updated.stderr)")
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(updated.stdout.utf8))["enabled"] == .bool(false))

            let rotated = try await Tronch.run(["keys", "rotate", id, "--grace", "60"], environment: env)
            #expect(rotated.status == 0, "\(rotated.stderr)")
            #expect(rotated.stdout.contains("only time the secret is shown"))
            #expect(rotated.stdout.contains("rotated from  \(id)") || rotated.stdout.contains(id))

            let revoked = try await Tronch.run(["keys", "revoke", id, "--json"], environment: env)
            #expect(revoked.status == 0)
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(revoked.stdout.utf8))["status"] == .string("revoked"))

            let all = try await Tronch.run(["keys", "list", "--all", "--status", "revoked", "--json"], environment: env)
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(all.stdout.utf8))["data"]?.array?.count == 1)
        }
    }

    @Test func importsAJSONLinesFileInBatches() async throws {
        try await withLiveServer { env in
            let directory = try Tronch.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let secrets = (0..<5).map { "acme_live_\($0)_" + String(repeating: "x7Q", count: 8) }
            var lines = secrets.enumerated().map { #"{"key": "\#($1)", "name": "acme \#($0)", "scopes": ["orders:read"]}"# }
            lines.append(#"{"hash": {"algorithm": "sha256", "value": "\#(KeyHasher.sha256("legacy-" + secrets[0]).hex)"}}"#)
            try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/keys.jsonl", atomically: true, encoding: .utf8)
            let imported = try await Tronch.run(["keys", "import", directory + "/keys.jsonl", "--batch-size", "2"], environment: env)
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(imported.stdout.contains("imported 6 keys"))
            #expect(!imported.stdout.contains(secrets[0]), "secrets are never printed")
            for secret in secrets + ["legacy-" + secrets[0]] {
                let verified = try await Tronch.run(["keys", "verify", secret, "--json"], environment: env)
                #expect(verified.stdout.contains(#""code":"VALID""#) || verified.stdout.contains(#""code" : "VALID""#), "\(verified.stdout)")
            }
            // A second run is refused at its first batch (the keys exist), and says so without echoing secrets.
            let again = try await Tronch.run(["keys", "import", directory + "/keys.jsonl"], environment: env)
            #expect(again.status != 0)
            #expect(again.stderr.contains("none of them stored"))
            #expect(!again.stderr.contains(secrets[0]))
        }
    }

    @Test func serverErrorsExitNonZeroWithTheServersMessage() async throws {
        try await withLiveServer { env in
            let missing = try await Tronch.run(["keys", "show", UUID().uuidString], environment: env)
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("no key with id"))
            #expect(missing.stderr.contains("NOT_FOUND"))

            let invalid = try await Tronch.run(["keys", "create", "--allowed-ip", "10.1.2.3/8"], environment: env)
            #expect(invalid.status != 0)
            #expect(invalid.stderr.contains("did you mean '10.0.0.0/8'"))

            var badKey = env
            badKey["TRONCH_API_KEY"] = "nope"
            let unauthenticated = try await Tronch.run(["keys", "list"], environment: badKey)
            #expect(unauthenticated.status != 0)
            #expect(unauthenticated.stderr.contains("UNAUTHENTICATED"))

            var noKey = env
            noKey["TRONCH_API_KEY"] = nil
            let missingKey = try await Tronch.run(["keys", "list"], environment: noKey)
            #expect(missingKey.status != 0)
            #expect(missingKey.stderr.contains("TRONCH_API_KEY"))

            let badID = try await Tronch.run(["keys", "revoke", "../../etc"], environment: env)
            #expect(badID.status != 0)
            #expect(badID.stderr.contains("not a key id"))
        }
    }

    @Test func anUnreachableServerIsReported() async throws {
        let port = try Tronch.freePort()
        let result = try await Tronch.run(
            ["keys", "list", "--server", "http://127.0.0.1:\(port)"],
            environment: ["TRONCH_API_KEY": TestServer.rootKey]
        )
        #expect(result.status != 0)
        #expect(result.stderr.contains("cannot reach the Tronch server"))
    }

    @Test func offlineCommands() async throws {
        let version = try await Tronch.run(["version"])
        #expect(version.stdout == "tronch \(TronchVersion.current)\n")
        let generated = try await Tronch.run(["keys", "generate", "--env", "test", "--prefix", "acme"])
        let key = generated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(KeyFormat.parse(key)?.environment == .test)
        #expect(key.hasPrefix("acme_sk_test_"))
    }

    @Test func theSecretsKeyIsRotatedFromTheCommandLine() async throws {
        let directory = try Tronch.temporaryDirectory()
        let dataDir = ["--data-dir", directory + "/data"]
        #expect(try await Tronch.run(["migrate", "up"] + dataDir).status == 0)
        let first = try await Tronch.run(["secrets", "rotate-key"] + dataDir)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("sealed 0 secrets again under secrets key "))
        #expect(first.stdout.contains("the new key is in \(directory)/data/secrets.key"))
        let lines = try String(contentsOfFile: directory + "/data/secrets.key", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
    }

    /// "1, 2, 3" for the given versions.
    static func list(_ versions: some Sequence<Int>) -> String { versions.map(String.init).joined(separator: ", ") }
    static let versions = SQLiteStore.migrationVersions

    @Test func migrationsFromTheCommandLine() async throws {
        let versions = Self.versions
        let directory = try Tronch.temporaryDirectory()
        let dataDir = ["--data-dir", directory + "/data"]
        let pending = try await Tronch.run(["migrate", "status"] + dataDir)
        #expect(pending.status == 0, "\(pending.stderr)")
        #expect(pending.stdout.contains("pending"))
        let up = try await Tronch.run(["migrate", "up"] + dataDir)
        #expect(up.stdout == "applied \(Self.list(versions))\n")
        let status = try await Tronch.run(["migrate", "status", "--json"] + dataDir)
        let states = try JSONDecoder().decode(JSONValue.self, from: Data(status.stdout.utf8)).array ?? []
        #expect(states.map { $0["status"] } == Array(repeating: .string("applied"), count: versions.count))
        let down = try await Tronch.run(["migrate", "down"] + dataDir)
        #expect(down.stdout == "reverted \(versions.last!)\n")
        let all = try await Tronch.run(["migrate", "down", "--to", "0"] + dataDir)
        #expect(all.stdout == "reverted \(Self.list(versions.dropLast().reversed()))\n")
        let again = try await Tronch.run(["migrate", "up"] + dataDir)
        #expect(again.stdout == "applied \(Self.list(versions))\n")
    }

    @Test func migrationsOnPostgreSQLFromTheCommandLine() async throws {
        guard TestPostgres.url != nil || TestPostgres.isRequired else { return }
        let url = try await TestPostgres.freshSchemaURL()
        let environment = ["TRONCH_DATABASE_URL": url]
        let pending = try await Tronch.run(["migrate", "status", "--json"], environment: environment)
        #expect(pending.status == 0, "\(pending.stderr)")
        let states = try JSONDecoder().decode(JSONValue.self, from: Data(pending.stdout.utf8)).array ?? []
        #expect(states.map { $0["status"] } == Array(repeating: .string("pending"), count: Self.versions.count))
        let up = try await Tronch.run(["migrate", "up"], environment: environment)
        #expect(up.stdout == "applied \(Self.list(Self.versions))\n", "\(up.stderr)")
        let down = try await Tronch.run(["migrate", "down", "--to", "1"], environment: environment)
        #expect(down.stdout == "reverted \(Self.list(Self.versions.dropFirst().reversed()))\n", "\(down.stderr)")
        let table = try await Tronch.run(["migrate", "status"], environment: environment)
        #expect(table.stdout.contains("applied") && table.stdout.contains("pending"))
        let backup = try await Tronch.run(["backup", "--to", "/tmp/never.sqlite"], environment: environment)
        #expect(backup.status != 0)
        #expect(backup.stderr.contains("pg_dump"))
    }
}

/// People and tokens from the command line.
@Suite(.timeLimit(.minutes(3))) struct PeopleCLITests {
    @Test func usersAreManagedAndLogInFromTheCommandLine() async throws {
        let app = try await buildApplication(reader: TestServer.reader(), options: TestServer().options())
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let root = ["TRONCH_URL": "http://127.0.0.1:\(port)", "TRONCH_API_KEY": TestServer.rootKey]
            let password = "a long enough passphrase"
            let created = try await Tronch.run(
                ["users", "create", "--username", "Cli.Admin", "--email", "cli@example.com", "--role", "admin", "--password-stdin", "--json"],
                environment: root,
                input: password + "\n"
            )
            #expect(created.status == 0, "\(created.stderr)")
            #expect(!created.stdout.contains(password) && !created.stderr.contains(password))
            let user = try JSONDecoder().decode(JSONValue.self, from: Data(created.stdout.utf8))
            let id = try #require(user["id"]?.string)
            #expect(user["username"] == "cli.admin")

            let login = try await Tronch.run(
                ["login", "--username", "cli.admin", "--password-stdin"],
                environment: ["TRONCH_URL": root["TRONCH_URL"]!],
                input: password + "\n"
            )
            #expect(login.status == 0, "\(login.stderr)")
            let token = login.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.split(separator: ".").count == 3, "the access token alone, for export TRONCH_API_KEY=$(tronch login …)")
            let asAdmin = ["TRONCH_URL": root["TRONCH_URL"]!, "TRONCH_API_KEY": token]
            let me = try await Tronch.run(["users", "show", "me"], environment: asAdmin)
            #expect(me.stdout.contains("cli.admin") && me.stdout.contains("admin"))

            let member = try await Tronch.run(
                ["users", "create", "--username", "moe", "--email", "moe@example.com", "--no-password"],
                environment: asAdmin
            )
            #expect(member.status == 0, "\(member.stderr)")
            let list = try await Tronch.run(["users", "list", "--role", "member"], environment: asAdmin)
            #expect(list.stdout.contains("moe@example.com") && !list.stdout.contains("cli@example.com"))
            let updated = try await Tronch.run(["users", "update", id, "--display-name", "The Admin", "--json"], environment: asAdmin)
            #expect(updated.stdout.contains("The Admin"))
            #expect(try await Tronch.run(["users", "unlock", id], environment: asAdmin).status == 0)
            let wrong = try await Tronch.run(
                ["login", "--username", "cli.admin", "--password-stdin"],
                environment: ["TRONCH_URL": root["TRONCH_URL"]!],
                input: "wrong\n"
            )
            #expect(wrong.status != 0)
            #expect(wrong.stderr.contains("INVALID_CREDENTIALS"))
            #expect(try await Tronch.run(["users", "show", "not-a-uuid"], environment: asAdmin).status != 0)
        }
    }

    @Test func aLoginWithASecondFactorAndAPermissionCheckFromTheCommandLine() async throws {
        let server = TestServer()
        let app = try await buildApplication(reader: TestServer.reader(), options: server.options())
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let url = "http://127.0.0.1:\(port)"
            let api = APIClient(client: client)
            let (secret, recovery, _) = try await MFATests.enrolled(api, server, "cli.mfa")
            // The code that confirmed enrolment is spent: the login takes the next one.
            server.clock.advance(seconds: 30)
            let code = try MFATests.code(secret, server)
            let login = try await Tronch.run(
                ["login", "--username", "cli.mfa", "--password-stdin", "--json"],
                environment: ["TRONCH_URL": url],
                input: UsersTests.password + "\n" + code + "\n"
            )
            #expect(login.status == 0, "\(login.stderr)")
            let answer = try JSONDecoder().decode(JSONValue.self, from: Data(login.stdout.utf8))
            #expect(answer["access_token"]?.string?.split(separator: ".").count == 3)
            let withRecovery = try await Tronch.run(
                ["login", "--username", "cli.mfa", "--password-stdin"],
                environment: ["TRONCH_URL": url],
                input: UsersTests.password + "\n" + recovery[0] + "\n"
            )
            #expect(withRecovery.status == 0, "\(withRecovery.stderr)")
            let wrongCode = try await Tronch.run(
                ["login", "--username", "cli.mfa", "--password-stdin"],
                environment: ["TRONCH_URL": url],
                input: UsersTests.password + "\n000000\n"
            )
            #expect(wrongCode.status == 1)
            #expect(wrongCode.stderr.contains("MFA_INVALID"), "\(wrongCode.stderr)")

            let user = try #require(try await api.request(.get, "/api/v1/users?q=cli.mfa")["data"]?.array?.first?["id"]?.string)
            let entry = try await api.request(
                .post,
                "/api/v1/acl-entries",
                json: ["resource": "project:acme", "principal": .string("user:\(user)"), "action": "read", "effect": "allow", "kind": "dacl"]
            )
            #expect(entry.status == .created, "\(entry.json)")
            let root = ["TRONCH_URL": url, "TRONCH_API_KEY": TestServer.rootKey]
            let allowed = try await Tronch.run(
                ["authz", "check", "--principal", "user:\(user)", "--action", "read", "--resource", "project:acme/web"],
                environment: root
            )
            #expect(allowed.status == 0, "\(allowed.stderr)")
            #expect(allowed.stdout == "allowed: dacl_allow (entry \(entry["id"]!.string!), on project:acme)\n")
            let denied = try await Tronch.run(
                ["authz", "check", "--principal", "user:\(user)", "--action", "write", "--resource", "project:acme/web"],
                environment: root
            )
            #expect(denied.status == 3, "\(denied.stderr)")
            #expect(denied.stdout == "denied: fallback\n")
            let json = try await Tronch.run(
                ["authz", "check", "--principal", "user:\(user)", "--action", "read", "--resource", "project:acme", "--json"],
                environment: root
            )
            #expect(json.status == 3, "a DACL is not for its own resource")
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))["reason"]?["rule"] == "fallback")
            let bad = try await Tronch.run(
                ["authz", "check", "--principal", "nobody", "--action", "read", "--resource", "project:acme"],
                environment: root
            )
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("VALIDATION_FAILED"))
        }
    }

    @Test func aSigningKeyRotationLogsNobodyOut() async throws {
        let directory = try Tronch.temporaryDirectory()
        let rootKey = KeyFormat(prefix: "tronch")!.generate(environment: .live)
        let environment = ["TRONCH_BOOTSTRAP_ROOT_KEY": rootKey, "TRONCH_PASSWORD_SCRYPT_LOG_N": "10", "TRONCH_RATELIMIT_LOGIN": "off"]
        let server = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await server.waitUntilReady()
        let (status, _) = try await HTTP.call(
            "POST",
            server.baseURL + "/api/v1/users",
            key: rootKey,
            body: #"{"username": "rot", "email": "rot@example.com", "password": "a long enough passphrase"}"#
        )
        #expect(status == 201)
        func login() async throws -> String {
            let (status, answer) = try await HTTP.call(
                "POST",
                server.baseURL + "/api/v1/auth/login",
                key: nil,
                body: #"{"username": "rot", "password": "a long enough passphrase"}"#
            )
            guard let token = answer["access_token"]?.string else { throw CLITestFailure("login answered \(status): \(answer)") }
            return token
        }
        func kid(_ token: String) throws -> String? {
            try JSONParser.parse(try #require(Base64URL.decode(String(token.split(separator: ".")[0]))))["kid"]?.string
        }
        let before = try await login()
        let rotated = try await Tronch.run(["tokens", "rotate-signing-key"], environment: environment, directory: directory)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        let listed = try await Tronch.run(["tokens", "signing-keys", "--json"], environment: environment, directory: directory)
        let keys = try JSONDecoder().decode(JSONValue.self, from: Data(listed.stdout.utf8)).array ?? []
        #expect(keys.map { $0["state"] } == ["passive", "active"])
        // The server picks the new key up within its reload interval; the old token keeps working meanwhile.
        try await eventually(within: 15) { try kid(try await login()) == keys.last?["kid"]?.string }
        #expect(try await HTTP.call("GET", server.baseURL + "/api/v1/users/me", key: before).0 == 200, "nobody is logged out")
        let (_, jwks) = try await HTTP.call("GET", server.baseURL + "/.well-known/jwks.json", key: nil)
        #expect(Set(jwks["keys"]?.array?.compactMap { $0["kid"]?.string } ?? []) == Set(keys.compactMap { $0["kid"]?.string }))
        #expect(try await server.terminate() == 0)
    }
}

struct CLITestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
