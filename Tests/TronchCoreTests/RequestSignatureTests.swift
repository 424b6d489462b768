import Crypto
import Foundation
import Testing
import TronchCore

@Suite struct RequestSignatureTests {
    /// RFC 9421 Appendix B.1.5, the shared secret of the `hmac-sha256` examples.
    static let rfcSecret = Array(
        Data(base64Encoded: "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")!
    )
    /// RFC 9421 Appendix B.2, the example request.
    static let rfcRequest = SignedRequest(
        method: "POST",
        path: "/foo",
        query: "param=Value&Pet=dog",
        authority: "example.com",
        scheme: "https",
        headers: [
            "Host": "example.com", "Date": "Tue, 20 Apr 2021 02:07:55 GMT", "Content-Type": "application/json",
            "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            "Content-Length": "18",
        ]
    )

    /// RFC 9421 Appendix B.2.5: "Signing a Request Using hmac-sha256", its signature base and signature.
    @Test func theRFCExampleVerifies() throws {
        let input = #"sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#
        let signature = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
        let parsed = try RequestSignature.parse(signatureInput: input, signature: signature)
        #expect(parsed.label == "sig-b25" && parsed.components == ["date", "@authority", "content-type"])
        let base = String(decoding: try RequestSignature.signatureBase(parsed, Self.rfcRequest), as: UTF8.self)
        #expect(
            base == """
                "date": Tue, 20 Apr 2021 02:07:55 GMT
                "@authority": example.com
                "content-type": application/json
                "@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"
                """
        )
        let mac = HMAC<SHA256>.authenticationCode(for: Array(base.utf8), using: SymmetricKey(data: Self.rfcSecret))
        #expect(Data(mac).base64EncodedString() == "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=")
        // Signing the same way gives the RFC's header values.
        let signed = try RequestSignature.sign(
            Self.rfcRequest,
            components: ["date", "@authority", "content-type"],
            secret: Self.rfcSecret,
            label: "sig-b25",
            parameters: [("created", .integer(1_618_884_473)), ("keyid", .string("test-shared-secret"))]
        )
        #expect(signed.signatureInput == input && signed.signature == signature)
    }

    static let secret = Array(repeating: UInt8(7), count: 32)
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let body = Array(#"{"amount":100}"#.utf8)

    static func request(
        signedAt created: Int64 = 1_800_000_000,
        nonce: String = "n-1",
        extra: [(name: String, value: RequestSignature.Parameter)] = []
    )
        throws -> SignedRequest
    {
        var request = SignedRequest(
            method: "POST",
            path: "/orders",
            query: "expand=items",
            headers: ["Content-Digest": "sha-256=:\(Data(SHA256.hash(data: body)).base64EncodedString()):"]
        )
        let signed = try RequestSignature.sign(
            request,
            secret: secret,
            parameters: [("created", .integer(created)), ("nonce", .string(nonce)), ("keyid", .string("key-1"))] + extra
        )
        request.headers["signature-input"] = signed.signatureInput
        request.headers["signature"] = signed.signature
        return request
    }

    static func verify(_ request: SignedRequest, body: [UInt8]? = Self.body) -> Result<RequestSignature.Accepted, RequestSignature.Failure> {
        RequestSignature.verify(
            request,
            secret: secret,
            keyID: "key-1",
            now: now,
            bodySHA256: body.map { Array(SHA256.hash(data: $0)) }
        )
    }

    @Test func aSignedRequestVerifiesAndNamesItsNonce() throws {
        let accepted = try Self.verify(try Self.request()).get()
        #expect(accepted.nonce == "n-1")
        #expect(accepted.rememberUntil > Self.now.addingTimeInterval(RequestSignature.window))
        // Without the body's digest from the caller, the signed content-digest is still covered.
        #expect((try? Self.verify(try Self.request(), body: nil).get()) != nil)
    }

    @Test func everySignedPartIsCovered() throws {
        let edits: [(String, (inout SignedRequest) -> Void)] = [
            ("method", { $0.method = "DELETE" }), ("path", { $0.path = "/orders/7" }), ("query", { $0.query = "expand=all" }),
            ("digest", { $0.headers["content-digest"] = "sha-256=:\(Data(SHA256.hash(data: Array("{}".utf8))).base64EncodedString()):" }),
            ("nonce", { $0.headers["signature-input"] = $0.headers["signature-input"]!.replacingOccurrences(of: "n-1", with: "n-2") }),
            (
                "created",
                { $0.headers["signature-input"] = $0.headers["signature-input"]!.replacingOccurrences(of: "1800000000", with: "1800000001") }
            ),
        ]
        for (name, edit) in edits {
            var request = try Self.request()
            edit(&request)
            #expect(throws: RequestSignature.Failure.self, "\(name)") { try Self.verify(request, body: nil).get() }
        }
        // Another body than the signed digest says.
        #expect(throws: RequestSignature.Failure.invalid("content-digest does not match the body")) {
            try Self.verify(try Self.request(), body: Array("{}".utf8)).get()
        }
        // Another secret.
        let other = RequestSignature.verify(try Self.request(), secret: Array(repeating: 8, count: 32), keyID: "key-1", now: Self.now)
        #expect(throws: RequestSignature.Failure.invalid("the signature does not match")) { try other.get() }
    }

    @Test func theWindowIsFiveMinutesEitherWayAndExpiresCounts() throws {
        #expect((try? Self.verify(try Self.request(signedAt: 1_800_000_000 - 300)).get()) != nil)
        #expect((try? Self.verify(try Self.request(signedAt: 1_800_000_000 + 300)).get()) != nil)
        for created: Int64 in [1_800_000_000 - 301, 1_800_000_000 + 301] {
            #expect(throws: RequestSignature.Failure.expired("created is more than 300 seconds from now")) {
                try Self.verify(try Self.request(signedAt: created)).get()
            }
        }
        #expect(throws: RequestSignature.Failure.expired("the signature expired")) {
            try Self.verify(try Self.request(extra: [("expires", .integer(1_800_000_000))])).get()
        }
    }

    @Test func whatASignatureMustSayIsEnforced() throws {
        func signed(_ components: [String], _ parameters: [(name: String, value: RequestSignature.Parameter)]) throws -> SignedRequest {
            var request = SignedRequest(method: "GET", path: "/", headers: ["content-digest": "sha-256=:x:"])
            let signed = try RequestSignature.sign(request, components: components, secret: Self.secret, parameters: parameters)
            request.headers["signature-input"] = signed.signatureInput
            request.headers["signature"] = signed.signature
            return request
        }
        let good: [(name: String, value: RequestSignature.Parameter)] = [("created", .integer(1_800_000_000)), ("nonce", .string("n"))]
        let cases: [(SignedRequest, String)] = [
            (try signed(["@method", "@path", "@query"], good), "the signature does not cover content-digest"),
            (try signed(RequestSignature.requiredComponents, [("nonce", .string("n"))]), "the signature has no created parameter"),
            (
                try signed(RequestSignature.requiredComponents, [("created", .integer(1_800_000_000))]),
                "the signature has no nonce parameter (1-128 characters)"
            ),
            (try signed(RequestSignature.requiredComponents, good + [("alg", .string("rsa-pss-sha512"))]), "alg must be hmac-sha256"),
            (try signed(RequestSignature.requiredComponents, good + [("keyid", .string("key-2"))]), "keyid is not this key's id"),
            (SignedRequest(method: "GET", path: "/"), "the request has no Signature-Input and Signature headers"),
        ]
        for (request, reason) in cases {
            #expect(throws: RequestSignature.Failure.invalid(reason)) {
                try RequestSignature.verify(request, secret: Self.secret, keyID: "key-1", now: Self.now).get()
            }
        }
    }

    @Test func malformedHeadersAreInvalidNotCrashes() {
        let inputs = [
            "", "sig1", "sig1=", "sig1=(", #"sig1=("@method""#, #"sig1=("@method";req)"#, #"sig1=(@method)"#, "Sig1=()", "sig1=()",
            #"sig1=("@method");created="#, #"sig1=("@method");created=1;created=2"#, #"sig1=("@method");created=1234567890123456"#,
            #"sig1=("a\q")"#, "sig1=(\"\u{7}\")",
        ]
        for input in inputs {
            #expect(throws: RequestSignature.Failure.self, "\(input)") {
                try RequestSignature.parse(signatureInput: input, signature: "sig1=:\(Data(repeating: 0, count: 32).base64EncodedString()):")
            }
        }
        for signature in ["", "sig1=abc", "sig1=:not base64!:", "sig2=:\(Data(repeating: 0, count: 32).base64EncodedString()):", "sig1=:AAAA:"] {
            #expect(throws: RequestSignature.Failure.self, "\(signature)") {
                try RequestSignature.parse(signatureInput: #"sig1=("@method")"#, signature: signature)
            }
        }
        // Several members: the first signature is the one read, and its value is found among others.
        let value = Data(repeating: 1, count: 32).base64EncodedString()
        let parsed = try? RequestSignature.parse(
            signatureInput: #"sig1=("@method");created=1, other=("@path")"#,
            signature: "other=:\(value):, sig1=:\(value):"
        )
        #expect(parsed?.label == "sig1" && parsed?.components == ["@method"])
    }
}
