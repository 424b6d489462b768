import Foundation
import Testing
import TronchCore

@Suite struct WebhookSignatureTests {
    /// The test vector of the Standard Webhooks libraries (standardwebhooks.com).
    @Test func theStandardWebhooksVectorVerifies() throws {
        let key = try #require(WebhookSignature.key(of: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let signature = WebhookSignature.sign(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8),
            key: key
        )
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func aNewSecretIsThirtyTwoRandomBytes() throws {
        let (text, bytes) = WebhookSignature.newSecret()
        #expect(text.hasPrefix("whsec_") && text.count == 50)
        #expect(WebhookSignature.key(of: text) == bytes && bytes.count == 32)
        #expect(WebhookSignature.newSecret().bytes != bytes)
        #expect(WebhookSignature.key(of: "sk_nope") == nil)
    }
}

@Suite struct WebhookTargetTests {
    @Test(arguments: [
        "http://127.0.0.1/hook", "http://127.1.2.3:8080/", "http://[::1]/", "http://10.0.0.5/", "https://172.16.9.1/",
        "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data", "http://[fe80::1]/", "http://[fd00::1]/",
        "http://100.64.0.1/", "http://0.0.0.0/", "http://224.0.0.1/", "http://localhost:3000/", "http://api.localhost/", "http://localhost./",
        "http://[::ffff:127.0.0.1]/",
    ])
    func privateAddressesAreRefused(url: String) {
        guard case .failure(.refusedAddress) = WebhookTarget.check(url, allowed: []) else {
            Issue.record("\(url) was not refused as a private address")
            return
        }
    }

    @Test(arguments: [
        "ftp://example.com/", "example.com/hook", "https://user:pw@example.com/", "https://exa mple.com/", "https://", "http://example.com:0/",
        "http://example.com:99999/", "https://[::1/", "http://[xyz]/", "http://[::1]:x/", "http://[::1]z/",
    ])
    func malformedURLsAreInvalid(url: String) {
        guard case .failure(.invalid) = WebhookTarget.check(url, allowed: []) else {
            Issue.record("\(url) was not refused as invalid")
            return
        }
    }

    @Test func publicHostsPassAndAllowedNetworksOpenPrivateOnes() throws {
        #expect(try WebhookTarget.check("https://hooks.example.com/tronch?token=x", allowed: []).get() == "hooks.example.com")
        #expect(try WebhookTarget.check("https://203.0.113.9:8443/", allowed: []).get() == "203.0.113.9")
        #expect(try WebhookTarget.check("http://[2606:4700::1]/", allowed: []).get() == "2606:4700::1")
        let loopback = [try CIDR(parsing: "127.0.0.0/8")]
        #expect(try WebhookTarget.check("http://127.0.0.1:9000/", allowed: loopback).get() == "127.0.0.1")
        #expect(throws: WebhookTarget.Refusal.self) { try WebhookTarget.check("http://10.0.0.1/", allowed: loopback).get() }
        #expect(try WebhookTarget.check("http://localhost:9000/", allowed: loopback).get() == "localhost", "loopback allowed: localhost too")
    }
}

@Suite struct WebhookEventTests {
    @Test func subscriptionsMatchTypesFamiliesAndEverything() {
        #expect(WebhookEvent.matches(["key.created"], "key.created"))
        #expect(!WebhookEvent.matches(["key.created"], "key.revoked"))
        #expect(WebhookEvent.matches(["key.*"], "key.revoked") && !WebhookEvent.matches(["key.*"], "user.created"))
        #expect(WebhookEvent.matches(["*"], "mfa.enabled"))
        #expect(!WebhookEvent.matches(["*"], "auth.failed"), "only published types are sent")
        #expect(
            WebhookEvent.isPattern("user.*") && WebhookEvent.isPattern("*") && !WebhookEvent.isPattern("nope.*") && !WebhookEvent.isPattern("key")
        )
    }

    @Test func retriesFollowTheScheduleThenStop() {
        let delays = (1...8).map { WebhookEvent.retryDelay(after: $0, maxAttempts: 8) }
        #expect(delays == [5, 300, 1800, 7200, 18_000, 36_000, 36_000, nil])
        #expect(WebhookEvent.retryDelay(after: 1, maxAttempts: 1) == nil)
    }
}
