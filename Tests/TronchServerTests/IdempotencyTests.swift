import Foundation
import HTTPTypes
import Testing
import TronchCore

@testable import TronchServer

/// `Idempotency-Key` on Tronch's own API: Stripe's semantics, per caller, on both backends.
@Suite struct IdempotencyTests {
    static let header = HTTPField.Name("Idempotency-Key")!
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    @Test(arguments: ServerBackend.all)
    func aRetriedCreationCreatesOneKeyAndAnswersTheSame(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let body: JSONValue = ["name": "once", "scopes": ["orders:read"]]
            let first = try await api.request(.post, "/api/v1/keys", json: body, headers: [Self.header: "create-once-1"])
            #expect(first.status == .created)
            #expect(first.headers[Self.replayed] == nil)
            let again = try await api.request(.post, "/api/v1/keys", json: body, headers: [Self.header: "create-once-1"])
            #expect(again.status == .created)
            #expect(again.headers[Self.replayed] == "true")
            #expect(again.json == first.json, "the same answer, the secret included")
            #expect(again.headers[.contentType] == first.headers[.contentType])
            #expect(again.headers[.requestID] != nil && again.headers[.requestID] != first.headers[.requestID], "each answer has its own request id")
            let listed = try await api.request(.get, "/api/v1/keys?limit=100")
            #expect(listed["data"]?.array?.filter { $0["name"] == "once" }.count == 1, "one key, not two")
            let created = try await api.request(.get, "/api/v1/audit-logs?action=key.created&limit=100")
            #expect(created["data"]?.array?.filter { $0["target"]?["id"] == first["id"] }.count == 1)
            #expect(try await api.verify(first["key"]!.string!).code == "VALID")

            // The same key for another request is refused, and changes nothing.
            let other = try await api.request(.post, "/api/v1/keys", json: ["name": "twice"], headers: [Self.header: "create-once-1"])
            #expect(other.status == .unprocessableContent)
            #expect(other.code == "IDEMPOTENCY_MISMATCH")
            let elsewhere = try await api.request(.patch, "/api/v1/keys/\(first["id"]!.string!)", json: body, headers: [Self.header: "create-once-1"])
            #expect(elsewhere.code == "IDEMPOTENCY_MISMATCH", "another path is another request")
            #expect(try await api.request(.get, "/api/v1/keys?limit=100")["data"]?.array?.contains { $0["name"] == "twice" } == false)
        }
    }

    @Test func keysBelongToTheirCallerAndFailuresKeepNothing() async throws {
        try await TestServer().run { api async throws in
            let writer = try await api.createKey(["scopes": ["keys:write", "keys:read"]])["key"]!.string!
            let mine = try await api.request(.post, "/api/v1/keys", json: ["name": "root's"], headers: [Self.header: "shared-name"])
            let theirs = try await api.request(.post, "/api/v1/keys", key: writer, json: ["name": "writer's"], headers: [Self.header: "shared-name"])
            #expect(mine.status == .created && theirs.status == .created)
            #expect(theirs.headers[Self.replayed] == nil, "another caller's key of the same name is another key")
            #expect(theirs["id"] != mine["id"])

            // A refused request keeps nothing: the same request fails again, then a corrected one succeeds.
            let bad: JSONValue = ["name": "x", "expires_at": "yesterday"]
            let refused = try await api.request(.post, "/api/v1/keys", json: bad, headers: [Self.header: "fix-and-retry"])
            #expect(refused.status == .badRequest)
            let refusedAgain = try await api.request(.post, "/api/v1/keys", json: bad, headers: [Self.header: "fix-and-retry"])
            #expect(refusedAgain.status == .badRequest)
            #expect(refusedAgain.headers[Self.replayed] == nil)
            let fixed = try await api.request(.post, "/api/v1/keys", json: ["name": "x"], headers: [Self.header: "fix-and-retry"])
            #expect(fixed.status == .created)

            // PATCH too; a replayed update does not run again (the audit has one change).
            let id = fixed["id"]!.string!
            for _ in 0..<2 {
                let renamed = try await api.request(.patch, "/api/v1/keys/\(id)", json: ["name": "renamed"], headers: [Self.header: "rename-1"])
                #expect(renamed.status == .ok)
            }
            let updates = try await api.request(.get, "/api/v1/audit-logs?action=key.updated&target_id=\(id)")
            #expect(updates["data"]?.array?.count == 1)

            // Checks that write nothing ignore the header; a malformed header is a 400 that changes nothing.
            let verifier = try await api.createKey(["scopes": ["keys:verify"]])["key"]!.string!
            for _ in 0..<2 {
                let verified = try await api.request(
                    .post,
                    "/api/v1/keys/verify",
                    key: verifier,
                    json: ["key": .string(writer)],
                    headers: [Self.header: "v"]
                )
                #expect(verified.headers[Self.replayed] == nil)
            }
            for key in ["has space", String(repeating: "k", count: 256), "tab\there"] {
                let malformed = try await api.request(.post, "/api/v1/keys", json: ["name": "y"], headers: [Self.header: key])
                #expect(malformed.status == .badRequest, "\(key)")
            }
            #expect(try await api.request(.get, "/api/v1/keys?limit=100")["data"]?.array?.contains { $0["name"] == "y" } == false)
        }
    }

    @Test func aKeptAnswerIsSealedAtRest() async throws {
        let directory = try Tronch.temporaryDirectory()
        let path = directory + "/tronch.sqlite"
        let server = TestServer(config: ["database.url": "sqlite://\(path)", "data.dir": directory])
        let secret = try await server.run { api async throws -> String in
            let created = try await api.request(.post, "/api/v1/keys", json: ["name": "sealed"], headers: [Self.header: "sealed-1"])
            let secret = try #require(created["key"]?.string)
            let replay = try await api.request(.post, "/api/v1/keys", json: ["name": "sealed"], headers: [Self.header: "sealed-1"])
            #expect(replay["key"]?.string == secret)
            return secret
        }
        var bytes = Data()
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasPrefix("tronch.sqlite") {
            bytes.append(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("sealed-1"), "the kept answer is in the file")
        #expect(!text.contains(secret) && !text.contains(String(secret.suffix(24))), "but not the secret it holds")
        #expect(!text.contains(Data(secret.utf8).base64EncodedString().prefix(30)))
    }
}
