import Foundation
import HTTPTypes
import Logging
import Testing
import TronchCore
import TronchTestSupport

@testable import TronchServer
@testable import TronchStorage

/// Rotating the pepper: both peppers verify during the rotation, a key moves to the new one when it is
/// presented, `tronch keys pepper-status` says when the old one can go, and after it goes, keys that were
/// never presented are unknown.
@Suite struct PepperRotationTests {
    static let old = "old-pepper-that-is-long-enough-0123456789"
    static let new = "new-pepper-that-is-long-enough-9876543210"
    static let secretsKey = Data(repeating: 9, count: 32).base64EncodedString()

    /// One database for several servers in turn: a SQLite file, or a fresh PostgreSQL schema.
    static func databaseURL(_ backend: ServerBackend) async throws -> String {
        switch backend {
        case .sqlite: "sqlite://" + (try Tronch.temporaryDirectory()) + "/tronch.sqlite"
        case .postgres: try await TestPostgres.freshSchemaURL()
        }
    }

    @Test(arguments: ServerBackend.all) func keysMoveToTheNewPepperAsTheyAreUsed(backend: ServerBackend) async throws {
        let url = try await Self.databaseURL(backend)
        let data = try Tronch.temporaryDirectory()
        let base = ["database.url": url, "secrets.key": Self.secretsKey, "data.dir": data]
        // Before: three keys under the old pepper, one of them revoked.
        let secrets = try await TestServer(config: base.merging(["key.pepper": Self.old]) { $1 }).run { api async throws in
            var secrets = [String: String]()
            for name in ["used", "idle", "gone"] {
                let created = try await api.createKey(["name": .string(name)])
                secrets[name] = created["key"]!.string!
                if name == "gone" { _ = try await api.request(.delete, "/api/v1/keys/\(created["id"]!.string!)") }
            }
            return secrets
        }
        let cli = [
            "TRONCH_DATABASE_URL": url, "TRONCH_KEY_PEPPER": Self.new, "TRONCH_KEY_PEPPER_PREVIOUS": Self.old,
            "TRONCH_SECRETS_KEY": Self.secretsKey, "TRONCH_DATA_DIR": data,
        ]
        // Every node now runs with the new pepper and knows the old one; the database still names the old one.
        let rotating = base.merging(["key.pepper": Self.new, "key.pepperPrevious": Self.old]) { $1 }
        try await TestServer(config: rotating).run { api async throws in
            // Found by the old pepper's digest and re-keyed at once (it names the old pepper), like the root key
            // this call authenticates with.
            #expect(try await api.verify(secrets["used"]!).code == "VALID", "found by the old pepper's digest")
            let rotated = try await Tronch.run(["keys", "rotate-pepper"], environment: cli)
            #expect(rotated.status == 0, "\(rotated.stderr)")
            #expect(rotated.stdout.contains("other peppers: 1 live keys, 1 revoked"), "\(rotated.stdout)")
            #expect(try await api.verify(secrets["used"]!).code == "VALID", "and by the new one's from then on")
            #expect(try await api.verify(secrets["gone"]!).code == "REVOKED", "a revoked key is still known, and not moved")
        }
        let status = try await Tronch.run(["keys", "pepper-status"], environment: cli)
        #expect(status.status == 3, "a live key still needs the old pepper: \(status.stdout) \(status.stderr)")
        #expect(status.stdout.contains("other peppers: 1 live keys, 1 revoked"), "\(status.stdout)")
        #expect(status.stdout.contains("current pepper \(KeyHasher(pepper: Array(Self.new.utf8)).id): 2 keys"), "\(status.stdout)")

        // The old pepper dropped: moved keys verify; the one never presented is unknown now.
        try await TestServer(config: base.merging(["key.pepper": Self.new]) { $1 }).run { api async throws in
            #expect(try await api.verify(secrets["used"]!).code == "VALID")
            #expect(try await api.verify(secrets["idle"]!).code == "NOT_FOUND")
            let audit = try await api.request(.get, "/api/v1/audit-logs?action=pepper.rotated")
            #expect(audit["data"]?.array?.count == 1)
        }
        if backend == .postgres {
            // Without a secrets key of its own, PostgreSQL's is derived from the pepper: a rotation would lose it.
            await #expect(throws: ConfigurationError.self) {
                try await TestServer(config: rotating.filter { $0.key != "secrets.key" }).run { _ async throws in }
            }
        }
        // A node still on the old pepper alone is refused at start-up: it would verify nothing.
        await #expect(throws: ConfigurationError.self) {
            try await TestServer(config: base.merging(["key.pepper": Self.old]) { $1 }).run { _ async throws in }
        }
    }

    @Test func sessionsAndRecoveryCodesFromBeforeARotationStillWork() async throws {
        let url = try await Self.databaseURL(.sqlite)
        let base = ["database.url": url, "data.dir": try Tronch.temporaryDirectory()]
        let before = TestServer(config: base.merging(["key.pepper": Self.old]) { $1 })
        let (refresh, recovery) = try await before.run { api async throws in
            _ = try await UsersTests.createUser(api, "ann")
            let login = try await UsersTests.login(api, "ann")
            let enrolled = try await MFATests.enrolled(api, before, "mia")
            return (try #require(login["refresh_token"]?.string), enrolled.recovery)
        }
        try await TestServer(config: base.merging(["key.pepper": Self.new, "key.pepperPrevious": Self.old]) { $1 }).run { api async throws in
            let refreshed = try await TokensTests.refresh(api, refresh)
            #expect(refreshed.status == .ok, "a refresh token from before the rotation: \(refreshed.json)")
            let next = try #require(refreshed["refresh_token"]?.string)
            #expect(try await TokensTests.refresh(api, next).status == .ok, "its successor, made with the new pepper")
            let challenge = try await UsersTests.login(api, "mia")
            let mfaToken = try #require(challenge.json["mfa_token"]?.string)
            let finished = try await api.request(
                .post,
                "/api/v1/auth/mfa",
                key: nil,
                json: ["mfa_token": .string(mfaToken), "recovery_code": .string(recovery[0])]
            )
            #expect(finished.status == .ok, "a recovery code from before the rotation: \(finished.json)")
        }
    }

    @Test func theEmbeddedStoreRotatesItsPepperFile() async throws {
        let directory = try Tronch.temporaryDirectory()
        let environment = ["TRONCH_DATA_DIR": directory]
        // The pepper comes from the data directory (no TRONCH_KEY_PEPPER).
        let server = TestServer(config: ["data.dir": directory, "database.url": "sqlite://\(directory)/tronch.sqlite", "key.pepper": ""])
        let secret = try await server.run { api async throws in try await api.createKey([:])["key"]!.string! }
        let before = try String(contentsOfFile: directory + "/pepper", encoding: .utf8)
        let rotated = try await Tronch.run(["keys", "rotate-pepper"], environment: environment)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(try String(contentsOfFile: directory + "/pepper.previous", encoding: .utf8) == before)
        #expect(try String(contentsOfFile: directory + "/pepper", encoding: .utf8) != before)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/pepper")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // A second rotation before the first is finished is refused.
        let again = try await Tronch.run(["keys", "rotate-pepper"], environment: environment)
        #expect(again.status != 0 && again.stderr.contains("still under way"), "\(again.stderr)")
        try await server.run { api async throws in #expect(try await api.verify(secret).code == "VALID") }
        let status = try await Tronch.run(["keys", "pepper-status", "--drop-previous"], environment: environment)
        #expect(status.status == 0, "every key was presented (the root key and the one verified): \(status.stdout) \(status.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/pepper.previous"))
        try await server.run { api async throws in #expect(try await api.verify(secret).code == "VALID") }
    }

    @Test func aRotationCutShortIsFinishedOrDroppedAtTheNextStart() async throws {
        let logger = Logger(label: "test")
        let directory = try Tronch.temporaryDirectory()
        try "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".write(toFile: directory + "/pepper", atomically: true, encoding: .utf8)
        let pending = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
        try pending.write(toFile: directory + "/pepper.new", atomically: true, encoding: .utf8)
        // The database never recorded it: dropped.
        try PepperRotation.finishPending(directory: directory, recorded: "something else", logger: logger)
        #expect(!FileManager.default.fileExists(atPath: directory + "/pepper.new"))
        #expect(try String(contentsOfFile: directory + "/pepper", encoding: .utf8).hasPrefix("aaaa"))
        // It did: kept, and the old one becomes the previous.
        try pending.write(toFile: directory + "/pepper.new", atomically: true, encoding: .utf8)
        try PepperRotation.finishPending(directory: directory, recorded: KeyHasher(pepper: Array(pending.utf8)).fingerprint, logger: logger)
        #expect(try String(contentsOfFile: directory + "/pepper", encoding: .utf8) == pending)
        #expect(try String(contentsOfFile: directory + "/pepper.previous", encoding: .utf8).hasPrefix("aaaa"))
    }

    @Test func aPreviousPepperIsCheckedAtStartUp() throws {
        #expect(throws: ConfigurationError(key: "TRONCH_KEY_PEPPER_PREVIOUS", "")) {
            _ = try Settings(reader: TestServer.reader(["key.pepperPrevious": "short"]))
        }
        #expect(throws: ConfigurationError(key: "TRONCH_KEY_PEPPER_PREVIOUS", "")) {
            _ = try Settings(reader: TestServer.reader(["key.pepper": "", "key.pepperPrevious": Self.old], defaults: false))
        }
    }
}
