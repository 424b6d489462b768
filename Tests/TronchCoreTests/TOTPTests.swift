import Testing

@testable import TronchCore

@Suite struct TOTPTests {
    static let sha1Seed = Array("12345678901234567890".utf8)
    static let sha256Seed = Array("12345678901234567890123456789012".utf8)
    static let sha512Seed = Array("1234567890123456789012345678901234567890123456789012345678901234".utf8)

    /// RFC 4226 Appendix D: HOTP values for counters 0-9.
    @Test func rfc4226AppendixD() {
        let hotp = TOTP(secret: Self.sha1Seed)
        let expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
        #expect((0..<10).map { hotp.hotp(counter: UInt64($0)) } == expected)
    }

    /// RFC 6238 Appendix B, every row, with the per-algorithm seeds of the RFC's reference code.
    @Test(arguments: [
        (Int64(59), "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ])
    func rfc6238AppendixB(time: Int64, sha1: String, sha256: String, sha512: String) {
        #expect(TOTP(secret: Self.sha1Seed, algorithm: .sha1, digits: 8).code(at: time) == sha1)
        #expect(TOTP(secret: Self.sha256Seed, algorithm: .sha256, digits: 8).code(at: time) == sha256)
        #expect(TOTP(secret: Self.sha512Seed, algorithm: .sha512, digits: 8).code(at: time) == sha512)
    }

    @Test func aCodeIsAcceptedOneStepEitherSideAndOnlyOnce() {
        let totp = TOTP(secret: Self.sha1Seed)
        let now: Int64 = 1_800_000_015
        let step = totp.step(at: now)
        #expect(totp.accept(totp.code(at: now), at: now, lastUsed: nil) == step)
        #expect(totp.accept(totp.code(at: now - 30), at: now, lastUsed: nil) == step - 1)
        #expect(totp.accept(totp.code(at: now + 30), at: now, lastUsed: nil) == step + 1)
        #expect(totp.accept(totp.code(at: now - 60), at: now, lastUsed: nil) == nil, "two steps old")
        #expect(totp.accept(totp.code(at: now + 60), at: now, lastUsed: nil) == nil)
        #expect(totp.accept(totp.code(at: now), at: now, lastUsed: step) == nil, "a replay")
        #expect(totp.accept(totp.code(at: now - 30), at: now, lastUsed: step) == nil, "an older code after a newer one")
        #expect(totp.accept(totp.code(at: now + 30), at: now, lastUsed: step) == step + 1)
        for bad in ["", "12345", "1234567", "12a456", " 123456"] { #expect(totp.accept(bad, at: now, lastUsed: nil) == nil) }
    }

    @Test func base32RoundTripsAndTheURIHasItAll() {
        #expect(Base32.encode(Array("foobar".utf8)) == "MZXW6YTBOI")
        #expect(Base32.decode("mzxw6ytboi======") == Array("foobar".utf8))
        #expect(Base32.decode("MZXW6YTB0I") == nil, "0 is not base32")
        let secret = (0..<20).map { UInt8($0) }
        #expect(Base32.decode(Base32.encode(secret)) == secret)
        let uri = TOTP(secret: Self.sha1Seed).uri(issuer: "Tronch Prod", account: "ada@example.com")
        #expect(
            uri
                == "otpauth://totp/Tronch%20Prod:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tronch%20Prod&algorithm=SHA1&digits=6&period=30"
        )
    }
}
