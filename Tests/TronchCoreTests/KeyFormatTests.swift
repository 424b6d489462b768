import Testing

@testable import TronchCore

/// A deterministic generator so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct KeyFormatTests {
    let format = KeyFormat(prefix: "tronch")!

    @Test func crc32MatchesZlib() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
    }

    @Test func base62EncodesWithPadding() {
        #expect(String(decoding: Base62.encode(0, width: 6), as: UTF8.self) == "000000")
        #expect(String(decoding: Base62.encode(61, width: 6), as: UTF8.self) == "00000z")
        #expect(String(decoding: Base62.encode(62, width: 6), as: UTF8.self) == "000010")
        #expect(String(decoding: Base62.encode(UInt32.max, width: 6), as: UTF8.self) == "4gfFC3")
    }

    @Test(arguments: KeyEnvironment.allCases)
    func generatedKeysHaveTheDocumentedShape(environment: KeyEnvironment) throws {
        let key = format.generate(environment: environment)
        #expect(key.hasPrefix("tronch_sk_\(environment.rawValue)_"))
        #expect(key.utf8.count == "tronch_sk_live_".utf8.count + 32 + 6)
        let parsed = try #require(KeyFormat.parse(key))
        #expect(parsed.environment == environment)
        #expect(parsed.prefixLength == 6)
        let checksum = String(key.suffix(6))
        let body = Array(key.utf8.dropLast(6))
        #expect(checksum == String(decoding: Base62.encode(CRC32.checksum(body), width: 6), as: UTF8.self))
    }

    @Test func keysAreDistinct() {
        let keys = Set((0..<1000).map { _ in format.generate(environment: .live) })
        #expect(keys.count == 1000)
    }

    @Test func randomPartUsesTheWholeAlphabet() {
        var generator = SeededGenerator(state: 7)
        var seen = Set<UInt8>()
        for _ in 0..<200 { seen.formUnion(Base62.random(count: 32, using: &generator)) }
        #expect(seen == Set(Base62.alphabet))
    }

    @Test func checksumCatchesEverySingleCharacterChange() throws {
        var generator = SeededGenerator(state: 42)
        let key = format.generate(environment: .live, using: &generator)
        let bytes = Array(key.utf8)
        let alphabet = Base62.alphabet + Array("_-".utf8)
        var accepted = [String]()
        for index in bytes.indices {
            for replacement in alphabet where replacement != bytes[index] {
                var changed = bytes
                changed[index] = replacement
                let candidate = String(decoding: changed, as: UTF8.self)
                if KeyFormat.parse(candidate) != nil { accepted.append(candidate) }
            }
        }
        #expect(accepted.isEmpty, "single-character changes that still parsed: \(accepted)")
        #expect(KeyFormat.parse(key) != nil)
    }

    @Test(arguments: [
        "", "tronch", "tronch_sk_live_", "Tronch_sk_live_abcdefghijklmnopqrstuvwxyzABCDEF000000",
        "tronch_pk_live_abcdefghijklmnopqrstuvwxyzABCDEF000000", "tronch_sk_prod_abcdefghijklmnopqrstuvwxyzABCDEF000000",
        "tronch_sk_live_abcdefghijklmnopqrstuvwxyzABCDE!000000", "averyveryverylongprefix_sk_live_abcdefghijklmnopqrstuvwxyzABCDEF000000",
        "tronch_sk_live_abcdefghijklmnopqrstuvwxyzABCDEF000000 ", "ключ_sk_live_abcdefghijklmnopqrstuvwxyzABCDEF000000",
    ])
    func malformedKeysAreRejected(key: String) {
        #expect(KeyFormat.parse(key) == nil)
    }

    @Test func anyWellFormedPrefixParses() throws {
        let other = try #require(KeyFormat(prefix: "acme2"))
        let key = other.generate(environment: .test)
        #expect(KeyFormat.parse(key)?.environment == .test)
        #expect(KeyFormat.parse(key)?.prefixLength == 5)
    }

    @Test(arguments: ["", "UPPER", "has_underscore", "seventeen-chars-x", "abcdefghijklmnopq"])
    func invalidPrefixesAreRefused(prefix: String) {
        #expect(KeyFormat(prefix: prefix) == nil)
    }

    @Test func hintsShowPrefixEnvironmentAndFourCharactersAtEachEnd() {
        var generator = SeededGenerator(state: 1)
        let key = format.generate(environment: .live, using: &generator)
        let hints = KeyFormat.hints(for: key)
        #expect(hints.start == String(key.prefix("tronch_sk_live_".count + 4)))
        #expect(hints.end == String(key.suffix(4)))
    }
}

@Suite struct KeyHasherTests {
    @Test func hmacMatchesRFC4231() {
        let hasher = KeyHasher(pepper: Array("Jefe".utf8))
        #expect(
            hasher.digest("what do ya want for nothing?").hex
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        )
    }

    @Test func digestDependsOnPepperAndKey() {
        let one = KeyHasher(pepper: Array(repeating: 1, count: 32))
        let two = KeyHasher(pepper: Array(repeating: 2, count: 32))
        #expect(one.digest("a") != two.digest("a"))
        #expect(one.digest("a") != one.digest("b"))
        #expect(one.digest("a") == one.digest("a"))
    }

    @Test func digestRoundTripsThroughHexAndBytes() throws {
        let digest = KeyHasher(pepper: Array("pepper".utf8)).digest("key")
        #expect(KeyDigest(hex: digest.hex) == digest)
        #expect(KeyDigest(hex: digest.hex.uppercased()) == digest)
        #expect(KeyDigest(bytes: digest.bytes) == digest)
        #expect(KeyDigest(hex: "xyz") == nil)
        #expect(KeyDigest(hex: String(repeating: "g", count: 64)) == nil)
    }
}
