import Crypto
import Foundation
import HTTPTypes
import Logging
import Testing
import TronchCore
import TronchStorage
import TronchTestSupport

@testable import TronchServer

/// The secrets key that seals signing keys and TOTP seeds: refused when it does not match the database, and
/// rotated by `tronch secrets rotate-key` without logging anybody out or losing a second factor.
@Suite struct SecretsKeyTests {
    typealias Users = UsersTests

    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func randomKey() -> String {
        Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
    }

    /// The store `config` names, as the command-line tools open it.
    static func withStore<T: Sendable>(
        _ config: [String: String],
        _ body: @Sendable @escaping (any Store, Settings) async throws -> T
    )
        async throws -> T
    {
        let settings = try Settings(reader: TestServer.reader(config))
        let handle = try openStore(settings, logger: quiet)
        return try await handle.withServices { store in try await body(store, settings) }
    }

    static func rotate(_ config: [String: String]) async throws -> SecretsRotation.Result {
        try await withStore(config) { store, settings in
            try await SecretsRotation.rotate(settings: settings, store: store, now: Date(), logger: quiet)
        }
    }

    /// The ids of the keys that sealed the stored secrets.
    static func sealingKeys(_ config: [String: String]) async throws -> Set<String> {
        try await withStore(config) { store, _ in Set(try await store.sealedSecrets().compactMap { SecretBox.keyID(of: $0.sealed) }) }
    }

    static func fileKeys(_ directory: String) throws -> [String] {
        try String(contentsOfFile: directory + "/secrets.key", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// Logs `username` in with their password and a TOTP code 30 s on (the confirm code is used up).
    static func logInWithTOTP(_ api: APIClient, _ server: TestServer, _ username: String, secret: String) async throws -> APIResponse {
        server.clock.advance(seconds: 30)
        let first = try await Users.login(api, username)
        let mfaToken = try #require(first["mfa_token"]?.string, "\(first.json)")
        return try await api.request(
            .post,
            "/api/v1/auth/mfa",
            key: nil,
            json: ["mfa_token": .string(mfaToken), "code": .string(try MFATests.code(secret, server))]
        )
    }

    static func fileConfig() throws -> (config: [String: String], directory: String) {
        let directory = try Tronch.temporaryDirectory()
        return (["database.url": "sqlite://\(directory)/tronch.sqlite", "data.dir": directory], directory)
    }

    @Test func aLostKeyFileIsRefusedRatherThanReplaced() async throws {
        let (config, directory) = try Self.fileConfig()
        try await TestServer(config: config).run { _ in }
        let saved = try Self.fileKeys(directory)
        try FileManager.default.removeItem(atPath: directory + "/secrets.key")
        await #expect(throws: ConfigurationError.self) { try await TestServer(config: config).run { _ in } }
        #expect(!FileManager.default.fileExists(atPath: directory + "/secrets.key"), "no new key was made")

        try (Self.randomKey() + "\n").write(toFile: directory + "/secrets.key", atomically: true, encoding: .utf8)
        await #expect(throws: ConfigurationError.self, "another key") { try await TestServer(config: config).run { _ in } }
        try (saved.joined(separator: "\n") + "\n").write(toFile: directory + "/secrets.key", atomically: true, encoding: .utf8)
        try await TestServer(config: config).run { _ in }
    }

    @Test func rotatingTheKeyFileResealsEverythingAndLogsNobodyOut() async throws {
        let (config, directory) = try Self.fileConfig()
        let first = TestServer(config: config)
        let (secret, token) = try await first.run { api async throws in
            let (secret, _, token) = try await MFATests.enrolled(api, first, "rita")
            return (secret, token)
        }
        let before = try Self.fileKeys(directory)
        #expect(before.count == 1)
        let oldID = try #require(SecretsKey.box(fromFile: before[0])?.current.id)
        #expect(try await Self.sealingKeys(config) == [oldID])

        let result = try await Self.rotate(config)
        #expect(result.previousKeyID == oldID)
        #expect(result.keyID != oldID)
        #expect(result.resealed == 2, "the signing key and the TOTP seed")
        #expect(result.keyFile == directory + "/secrets.key")
        let after = try Self.fileKeys(directory)
        #expect(after.count == 2)
        #expect(after[1] == before[0], "the old key stays below the new one, opening only")
        #expect(SecretsKey.box(fromFile: after[0])?.current.id == result.keyID)
        #expect(try await Self.sealingKeys(config) == [result.keyID])
        #expect(!FileManager.default.fileExists(atPath: directory + "/secrets.key.new"))
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/secrets.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // Only the new key from here on: nothing still needs the old one.
        try (after[0] + "\n").write(toFile: directory + "/secrets.key", atomically: true, encoding: .utf8)
        let second = TestServer(config: config)
        try await second.run { api async throws in
            #expect(try await api.request(.get, "/api/v1/users/me", key: token).status == .ok, "a token signed before still verifies")
            let login = try await Self.logInWithTOTP(api, second, "rita", secret: secret)
            #expect(login.status == .ok, "\(login.json)")
            let entries = try await api.request(.get, "/api/v1/audit-logs?action=secrets_key.rotated")
            #expect(entries["data"]?.array?.first?["target"]?["id"] == .string(result.keyID))
            #expect(entries["data"]?.array?.first?["details"]?["previous"] == .string(oldID))
        }
    }

    @Test func aRotationCutShortIsFinishedOrDroppedAtTheNextStart() async throws {
        let (config, directory) = try Self.fileConfig()
        try await TestServer(config: config).run { _ in }
        let original = try Self.fileKeys(directory)

        // The key written before a transaction that never committed: dropped.
        try (Self.randomKey() + "\n" + original[0] + "\n").write(toFile: directory + "/secrets.key.new", atomically: true, encoding: .utf8)
        try await TestServer(config: config).run { _ in }
        #expect(!FileManager.default.fileExists(atPath: directory + "/secrets.key.new"))
        #expect(try Self.fileKeys(directory) == original)

        // A transaction that committed before the rename: the pending file becomes the key file.
        let result = try await Self.rotate(config)
        let rotated = try Self.fileKeys(directory)
        try FileManager.default.moveItem(atPath: directory + "/secrets.key", toPath: directory + "/secrets.key.new")
        try (original[0] + "\n").write(toFile: directory + "/secrets.key", atomically: true, encoding: .utf8)
        try await TestServer(config: config).run { api async throws in
            #expect(try await api.request(.get, "/.well-known/jwks.json", key: nil).status == .ok)
        }
        #expect(try Self.fileKeys(directory) == rotated)
        #expect(try await Self.sealingKeys(config) == [result.keyID])
    }

    @Test(arguments: ServerBackend.all) func aConfiguredKeyIsReplacedThroughPreviousKeys(backend: ServerBackend) async throws {
        var config: [String: String] = [:]
        if backend == .postgres {
            config["database.url"] = try await TestPostgres.freshSchemaURL()
        } else {
            config = try Self.fileConfig().config
        }
        let (old, new) = (Self.randomKey(), Self.randomKey())
        config["secrets.key"] = old
        let first = TestServer(config: config)
        let secret = try await first.run { api async throws in try await MFATests.enrolled(api, first, "cora").secret }

        config["secrets.key"] = new
        await #expect(throws: ConfigurationError.self, "the new key alone opens nothing yet") { try await TestServer(config: config).run { _ in } }
        config["secrets.previousKeys"] = "\(Self.randomKey()), \(old)"
        let result = try await Self.rotate(config)
        #expect(result.resealed == 2)
        #expect(result.keyFile == nil)
        #expect(try await Self.sealingKeys(config) == [result.keyID])

        config["secrets.previousKeys"] = nil
        let second = TestServer(config: config)
        try await second.run { api async throws in
            #expect(try await Self.logInWithTOTP(api, second, "cora", secret: secret).status == .ok)
        }
        config["secrets.key"] = old
        await #expect(throws: ConfigurationError.self, "the old key no longer matches") { try await TestServer(config: config).run { _ in } }
    }

    @Test(arguments: ServerBackend.all.filter { $0 == .postgres })
    func theKeyDerivedFromThePepperIsLeftForAConfiguredOne(backend: ServerBackend) async throws {
        var config = ["database.url": try await TestPostgres.freshSchemaURL()]
        let first = TestServer(config: config)
        let secret = try await first.run { api async throws in try await MFATests.enrolled(api, first, "dora").secret }
        await #expect(throws: ConfigurationError.self, "there is no new key to move to") { _ = try await Self.rotate(config) }

        config["secrets.key"] = Self.randomKey()
        let derivedID = try #require(try await Self.sealingKeys(config).first)
        let result = try await Self.rotate(config)
        #expect(result.previousKeyID == derivedID)
        #expect(try await Self.sealingKeys(config) == [result.keyID])
        let second = TestServer(config: config)
        try await second.run { api async throws in
            #expect(try await Self.logInWithTOTP(api, second, "dora", secret: secret).status == .ok)
        }
    }

    @Test func previousKeysAreCheckedAndNeedACurrentOne() throws {
        #expect(throws: ConfigurationError(key: "TRONCH_SECRETS_PREVIOUS_KEYS", "")) {
            _ = try Settings(reader: TestServer.reader(["secrets.key": Self.randomKey(), "secrets.previousKeys": "short"]))
        }
        #expect(throws: ConfigurationError(key: "TRONCH_SECRETS_PREVIOUS_KEYS", "")) {
            _ = try Settings(reader: TestServer.reader(["secrets.previousKeys": Self.randomKey()]))
        }
    }
}
