import Foundation
import Testing

@testable import TronchCore

@Suite struct UsernameTests {
    @Test(arguments: [("alice", "alice"), ("Alice", "alice"), ("ALICE.smith_2-x", "alice.smith_2-x"), ("abc", "abc")])
    func acceptedAndLowerCased(input: String, stored: String) throws {
        #expect(try Username.normalize(input).get() == stored)
    }

    @Test(arguments: ["ab", "", "alice smith", "alice@example", "élise", "\u{212A}elvin", String(repeating: "a", count: 65), "a/b", "tab\there"])
    func refused(input: String) {
        if case .success = Username.normalize(input) { Issue.record("'\(input)' must be refused") }
    }
}

@Suite struct EmailAddressTests {
    @Test(arguments: [
        ("  Jo.Smith@Example.COM ", "Jo.Smith@example.com"),
        ("a@b", "a@b"),
        ("first+tag@sub.example.org", "first+tag@sub.example.org"),
        // NFKC: full-width letters become ASCII.
        ("ｊｏ@ＥＸＡＭＰＬＥ.com", "jo@example.com"),
    ])
    func normalised(input: String, stored: String) throws {
        #expect(try EmailAddress.parse(input).get().value == stored)
    }

    @Test func uniquenessIgnoresCaseButTheLocalPartIsKept() throws {
        let one = try EmailAddress.parse("Jo@example.com").get()
        let two = try EmailAddress.parse("jo@EXAMPLE.com").get()
        #expect(one.value != two.value)
        #expect(one.key == two.key)
        #expect(one.localPart == "Jo")
    }

    @Test(arguments: [
        "", "plain", "@example.com", "jo@", "jo@example..com", "jo@-example.com", "jo smith@example.com", "jo@exa mple.com",
        "jo@@example.com", "jo@exam_ple.com", "\u{7}jo@example.com", String(repeating: "a", count: 65) + "@example.com",
        "jo@" + String(repeating: "a", count: 250) + ".com",
    ])
    func refused(input: String) {
        if case .success = EmailAddress.parse(input) { Issue.record("'\(input)' must be refused") }
    }
}

@Suite struct PasswordPolicyTests {
    let policy = PasswordPolicy()
    let email = try! EmailAddress.parse("jo.smith@example.com").get()

    @Test func aLongUncommonPasswordWithoutContextIsAccepted() {
        #expect(policy.problem("correct horse battery staple", username: "jsmith", email: email) == nil)
        #expect(policy.problem("ünïcødé is fine here ✓", username: "jsmith", email: email) == nil)
        #expect(policy.problem("all lower case, no digits", username: "jsmith", email: email) == nil, "no composition rules")
    }

    @Test func lengthIsCountedInCodePointsAfterNFKC() {
        // Twelve characters, each two UTF-8 bytes: accepted; eleven: refused.
        #expect(policy.problem(String(repeating: "é", count: 12), username: "jsmith", email: email) == nil)
        #expect(policy.problem(String(repeating: "é", count: 11), username: "jsmith", email: email)?.message.contains("at least 12") == true)
        // "ﬃ" is one code point that NFKC expands to three: four of them make twelve.
        #expect(policy.problem("ﬃﬃﬃﬃ", username: "jsmith", email: email) == nil)
        #expect(policy.problem(String(repeating: "x", count: 257), username: "jsmith", email: email)?.message.contains("at most 256") == true)
    }

    @Test func theMinimumComesFromConfiguration() {
        let short = PasswordPolicy(minLength: 8)
        #expect(short.problem("kangaroo7z", username: "jsmith", email: email) == nil)
        #expect(short.problem("password", username: "jsmith", email: email)?.field == "password")
    }

    @Test func commonPasswordsAreRefusedInAnyCase() {
        #expect(CommonPasswords.shipped.count >= 10_000)
        let short = PasswordPolicy(minLength: 8)
        for common in ["password", "PASSWORD1", "qwertyuiop", "iloveyou"] {
            #expect(short.problem(common, username: "jsmith", email: email)?.message.contains("common") == true, "\(common)")
        }
    }

    @Test func contextWordsAreRefused() {
        #expect(policy.problem("my name is jsmith ok", username: "jsmith", email: email)?.message.contains("username") == true)
        #expect(policy.problem("I am JO.SMITH, hello", username: "other", email: email)?.message.contains("e-mail") == true)
        #expect(policy.problem("tronch is my favourite", username: "other", email: email)?.message.contains("product") == true)
        // A context word shorter than three characters is not checked.
        let shortLocal = try! EmailAddress.parse("jo@example.com").get()
        #expect(policy.problem("jolly good show", username: "other", email: shortLocal) == nil)
    }

    @Test func theFieldIsNamedAsAsked() {
        #expect(policy.problem("short", username: "x", email: nil, field: "new_password")?.field == "new_password")
    }
}

@Suite struct LockoutTests {
    let policy = LockoutPolicy(threshold: 3, duration: .seconds(60), maxDuration: .seconds(300))
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func thresholdFailuresLockAndTheLockDoublesUpToTheCap() {
        var state = LockoutState()
        var now = start
        var durations: [TimeInterval] = []
        for _ in 0..<5 {
            var locked = false
            for attempt in 1...3 {
                (state, locked) = policy.failed(state, at: now)
                #expect(locked == (attempt == 3))
            }
            durations.append(state.lockedUntil!.timeIntervalSince(now))
            #expect(state.failures == 0, "the count restarts when a lock is set")
            now = state.lockedUntil!.addingTimeInterval(1)
            #expect(!state.isLocked(at: now))
        }
        #expect(durations == [60, 120, 240, 300, 300])
    }

    @Test func attemptsWhileLockedChangeNothing() {
        var state = LockoutState()
        for _ in 0..<3 { state = policy.failed(state, at: start).state }
        let locked = state
        let (after, lockedAgain) = policy.failed(state, at: start.addingTimeInterval(30))
        #expect(after == locked)
        #expect(!lockedAgain)
        #expect(after.isLocked(at: start.addingTimeInterval(59.9)))
        #expect(!after.isLocked(at: start.addingTimeInterval(60)))
    }

    @Test func aSuccessResetsTheCountAndTheDoubling() {
        var state = LockoutState()
        for _ in 0..<3 { state = policy.failed(state, at: start).state }
        state = policy.failed(state, at: start.addingTimeInterval(61)).state
        #expect(state.failures == 1)
        state = policy.succeeded(state)
        #expect(state == LockoutState())
        for _ in 0..<3 { state = policy.failed(state, at: start.addingTimeInterval(100)).state }
        #expect(state.lockedUntil == start.addingTimeInterval(160), "back to the first duration")
    }

    @Test func anUnlockClearsEverything() {
        var state = LockoutState()
        for _ in 0..<3 { state = policy.failed(state, at: start).state }
        #expect(policy.unlocked(state) == LockoutState())
    }
}

@Suite struct PasswordHashTests {
    let fast = PasswordHash.Parameters(logN: 10, r: 8, p: 1)

    @Test func aHashMatchesOnlyItsPasswordAndRoundTripsThroughItsPHCString() throws {
        let hash = try PasswordHash.make("correct horse battery staple", parameters: fast)
        #expect(try hash.matches("correct horse battery staple"))
        #expect(try !hash.matches("correct horse battery stapl"))
        let text = hash.phcString
        #expect(text.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(PasswordHash(phcString: text) == hash)
        #expect(try PasswordHash.make("correct horse battery staple", parameters: fast).phcString != text, "a new salt each time")
    }

    /// RFC 7914 §12's second test vector ("password", "NaCl", N = 1024, r = 8, p = 16, 64 bytes).
    @Test func scryptMatchesRFC7914() throws {
        let key = try KDFTestVector.derive()
        let expected: [UInt8] = [
            0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00, 0x78, 0x56, 0xe7, 0x19, 0x0d, 0x01, 0xe9, 0xfe,
            0x7c, 0x6a, 0xd7, 0xcb, 0xc8, 0x23, 0x78, 0x30, 0xe7, 0x73, 0x76, 0x63, 0x4b, 0x37, 0x31, 0x62,
            0x2e, 0xaf, 0x30, 0xd9, 0x2e, 0x22, 0xa3, 0x88, 0x6f, 0xf1, 0x09, 0x27, 0x9d, 0x98, 0x30, 0xda,
            0xc7, 0x27, 0xaf, 0xb9, 0x4a, 0x83, 0xee, 0x6d, 0x83, 0x60, 0xcb, 0xdf, 0xa2, 0xcc, 0x06, 0x40,
        ]
        #expect(key == expected)
    }

    @Test func parametersOrderByWork() {
        #expect(fast < PasswordHash.Parameters.owasp)
        #expect(!(PasswordHash.Parameters.owasp < PasswordHash.Parameters.owasp))
    }

    @Test(arguments: [
        "", "$scrypt$ln=10,r=8$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$scrypt$ln=10,r=8,p=1$!!$AAAA",
    ])
    func foreignOrAbsurdStringsAreNotParsed(text: String) {
        #expect(PasswordHash(phcString: text) == nil)
    }
}

enum KDFTestVector {
    static func derive() throws -> [UInt8] {
        // Through the same function the hasher uses, with the RFC's output length.
        let derived = try PasswordHash.deriveForTest(password: "password", salt: Array("NaCl".utf8), logN: 10, r: 8, p: 16, bytes: 64)
        return derived
    }
}

@Suite struct EmailCodePointTests {
    /// A combining mark or a modifier right after `@` does not swallow the `@` (checked by code point).
    @Test func marksAfterTheAtSignDoNotHideIt() throws {
        let address = try EmailAddress.parse("a@\u{0301}b.com").get()
        #expect(address.localPart == "a")
        #expect(try EmailAddress.parse("a@🏻b.com").get().value == "a@🏻b.com")
    }
}
