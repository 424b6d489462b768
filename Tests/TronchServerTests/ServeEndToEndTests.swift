import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TronchCore

/// `tronch serve` as a user runs it: a fresh data directory, the root key on the terminal, a clean stop.
/// Processes and servers can wedge; a stuck test fails after its time limit instead of hanging the run.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ServeEndToEndTests {
    func call(_ method: String, _ url: String, key: String, body: String? = nil) async throws -> (Int, JSONValue) {
        try await HTTP.call(method, url, key: key, body: body)
    }

    @Test func firstRunPrintsTheRootKeyAndAStopFlushesUsage() async throws {
        let directory = try Tronch.temporaryDirectory()
        // A long flush interval: only the shutdown flush can write last_used_at.
        let environment = ["TRONCH_USAGE_FLUSH_INTERVAL": "3600"]
        let first = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await first.waitUntilReady()
        let printed = first.stdout
        let rootKey = try #require(printed.split(whereSeparator: \.isWhitespace).map(String.init).first { KeyFormat.parse($0) != nil })
        #expect(printed.contains("shown only this once"))
        #expect(!first.stderr.contains(rootKey), "the root key is printed to the terminal, not logged")

        let (status, created) = try await call("POST", "\(first.baseURL)/api/v1/keys", key: rootKey, body: #"{"name":"e2e"}"#)
        #expect(status == 201)
        let secret = try #require(created["key"]?.string)
        let id = try #require(created["id"]?.string)
        let (_, verified) = try await call("POST", "\(first.baseURL)/api/v1/keys/verify", key: rootKey, body: #"{"key":"\#(secret)"}"#)
        #expect(verified["code"] == .string("VALID"))
        #expect(try await first.terminate() == 0)
        #expect(first.stderr.contains("tronch"))

        let pepper = try FileManager.default.attributesOfItem(atPath: directory + "/tronch-data/pepper")
        #expect((pepper[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        let second = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await second.waitUntilReady()
        #expect(!second.stdout.contains("root key"), "an existing database gets no new root key")
        let (_, shown) = try await call("GET", "\(second.baseURL)/api/v1/keys/\(id)", key: rootKey)
        #expect(shown["last_used_at"]?.string != nil, "the use recorded before SIGTERM was flushed")
        let (_, root) = try await call("GET", "\(second.baseURL)/api/v1/keys?name_prefix=root", key: rootKey)
        #expect(root["data"]?.array?.first?["last_used_at"]?.string != nil)
        #expect(try await second.terminate() == 0)
    }

    @Test func aFirstStartThatCannotListenCreatesNoRootKey() async throws {
        let directory = try Tronch.temporaryDirectory()
        let port = try Tronch.freePort()
        let holder = try ServerProcess(arguments: [], environment: [:], directory: try Tronch.temporaryDirectory(), port: port)
        try await holder.waitUntilReady()
        let refused = try await Tronch.run(["serve", "--port", String(port)], directory: directory)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("TRONCH_PORT"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("root key"), "no root key may be shown by a start that fails")
        #expect(try await holder.terminate() == 0)

        // The key was never created: the next start, on a free port, creates and prints it.
        let next = try ServerProcess(arguments: [], environment: [:], directory: directory, port: try Tronch.freePort())
        try await next.waitUntilReady()
        #expect(next.stdout.contains("shown only this once"))
        #expect(try await next.terminate() == 0)
    }

    @Test func invalidConfigurationStopsStartUpNamingTheKey() async throws {
        let directory = try Tronch.temporaryDirectory()
        let result = try await Tronch.run(["serve"], environment: ["TRONCH_PORT": "eighty"], directory: directory)
        #expect(result.status != 0)
        #expect(result.stderr.contains("TRONCH_PORT"))
        let prefix = try await Tronch.run(["serve", "--port", "0"], environment: ["TRONCH_KEY_PREFIX": "No_Good"], directory: directory)
        #expect(prefix.status != 0)
        #expect(prefix.stderr.contains("TRONCH_KEY_PREFIX"))
    }

    @Test func aConfigFileIsReadBelowTheEnvironment() async throws {
        let directory = try Tronch.temporaryDirectory()
        let port = try Tronch.freePort()
        let file = directory + "/tronch.json"
        try #"{"port": 1, "key": {"prefix": "filecfg"}, "data": {"dir": "from-file"}}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let server = try ServerProcess(
            arguments: ["--config", file],
            environment: ["TRONCH_PORT": String(port)],
            directory: directory,
            port: port
        )
        try await server.waitUntilReady()
        let rootKey = try #require(server.stdout.split(whereSeparator: \.isWhitespace).map(String.init).first { KeyFormat.parse($0) != nil })
        #expect(rootKey.hasPrefix("filecfg_sk_live_"))
        #expect(FileManager.default.fileExists(atPath: directory + "/from-file/tronch.sqlite"))
        #expect(try await server.terminate() == 0)

        let broken = directory + "/broken.json"
        try "{not json".write(toFile: broken, atomically: true, encoding: .utf8)
        let failed = try await Tronch.run(["serve", "--config", broken], directory: directory)
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("TRONCH_CONFIG_FILE"))
    }

    /// The documented backup and restore path, with the server running during the backup.
    @Test func backupWhileServingThenRestore() async throws {
        let directory = try Tronch.temporaryDirectory()
        let dataDir = ["--data-dir", directory + "/tronch-data"]
        let server = try ServerProcess(arguments: [], environment: [:], directory: directory, port: try Tronch.freePort())
        try await server.waitUntilReady()
        let rootKey = try #require(server.stdout.split(whereSeparator: \.isWhitespace).map(String.init).first { KeyFormat.parse($0) != nil })
        let (_, kept) = try await call("POST", "\(server.baseURL)/api/v1/keys", key: rootKey, body: #"{"name":"kept"}"#)
        let backup = directory + "/backup.sqlite"
        let backedUp = try await Tronch.run(["backup", "--to", backup] + dataDir, directory: directory)
        #expect(backedUp.status == 0, "\(backedUp.stderr)")
        #expect(backedUp.stdout.contains("pepper"))
        let again = try await Tronch.run(["backup", "--to", backup] + dataDir, directory: directory)
        #expect(again.status != 0, "a backup never overwrites a file")
        let (_, lost) = try await call("POST", "\(server.baseURL)/api/v1/keys", key: rootKey, body: #"{"name":"after the backup"}"#)
        #expect(try await server.terminate() == 0)

        let restored = try await Tronch.run(["restore", "--from", backup] + dataDir, directory: directory)
        #expect(restored.status == 0, "\(restored.stderr)")
        let restarted = try ServerProcess(arguments: [], environment: [:], directory: directory, port: try Tronch.freePort())
        try await restarted.waitUntilReady()
        let (keptStatus, _) = try await call("GET", "\(restarted.baseURL)/api/v1/keys/\(kept["id"]!.string!)", key: rootKey)
        #expect(keptStatus == 200)
        let (lostStatus, _) = try await call("GET", "\(restarted.baseURL)/api/v1/keys/\(lost["id"]!.string!)", key: rootKey)
        #expect(lostStatus == 404)
        #expect(try await restarted.terminate() == 0)
    }
}
