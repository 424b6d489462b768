import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import Testing
import TronchAPI
import TronchCore

@testable import TronchServer

/// The client swift-openapi-generator makes from docs/openapi.json, against a live server: what a user who
/// generates a client from the document gets must work, problem answers included.
@Suite(.timeLimit(.minutes(3))) struct GeneratedClientTests {
    /// Sends the key as `Authorization: Bearer`, the document's `bearer` scheme.
    struct BearerMiddleware: ClientMiddleware {
        let key: String

        func intercept(
            _ request: HTTPRequest,
            body: HTTPBody?,
            baseURL: URL,
            operationID: String,
            next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
        ) async throws -> (HTTPResponse, HTTPBody?) {
            var request = request
            request.headerFields[.authorization] = "Bearer \(key)"
            return try await next(request, body, baseURL)
        }
    }

    @Test func aGeneratedClientCreatesListsVerifiesRotatesAndRevokesAKey() async throws {
        let server = TestServer()
        try await server.run(.live) { api async throws in
            let port = try #require(api.client.port)
            // Tronch's timestamps carry milliseconds: the runtime's default ISO 8601 transcoder expects none.
            let client = Client(
                serverURL: URL(string: "http://127.0.0.1:\(port)")!,
                configuration: Configuration(dateTranscoder: .iso8601WithFractionalSeconds),
                transport: AsyncHTTPClientTransport(),
                middlewares: [BearerMiddleware(key: TestServer.rootKey)]
            )

            let created = try await client.createKey(
                body: .json(.init(name: "generated", ownerId: "cus_gen", scopes: ["orders:read"], meta: .init()))
            ).created.body.json
            let id = created.value1.id
            let secret = created.value2.key
            #expect(created.value1.name == "generated")
            #expect(created.value1.scopes == ["orders:read"])

            let listed = try await client.listKeys(query: .init(ownerId: "cus_gen")).ok.body.json
            #expect(listed.data.map(\.id) == [id])

            let verified = try await client.verifyKey(body: .json(.init(key: secret, scopes: ["orders:read"]))).ok.body.json
            #expect(verified.valid)
            #expect(verified.code == .valid)

            let rotated = try await client.rotateKey(path: .init(id: id), body: .json(.init(gracePeriodSeconds: 0)))
                .created.body.json
            #expect(rotated.value1.rotatedFrom == id)
            let old = try await client.verifyKey(body: .json(.init(key: secret))).ok.body.json
            #expect(old.code == .revoked)

            let revoked = try await client.revokeKey(path: .init(id: rotated.value1.id)).ok.body.json
            #expect(revoked.status == .revoked)
            let new = try await client.verifyKey(body: .json(.init(key: rotated.value2.key))).ok.body.json
            #expect(new.code == .revoked)

            // A problem answer decodes as the document's Problem.
            let missing = try await client.getKey(path: .init(id: UUIDv7.make(at: Date()).lowercased))
            let problem = try missing.notFound.body.applicationProblemJson
            #expect(problem.code == .notFound)
            #expect(problem.status == 404)
            #expect(!problem.requestId.isEmpty)

            let refused = try await client.createKey(body: .json(.init(scopes: ["not ok"])))
            let invalid = try refused.badRequest.body.applicationProblemJson
            #expect(invalid.code == .validationFailed)
            #expect(invalid.errors?.first?.field == "scopes[0]")
        }
    }
}
