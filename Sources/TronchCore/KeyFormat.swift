/// The public key format, `{prefix}_sk_{env}_{random}{checksum}`.
///
/// GitHub-style: the checksum lets secret scanners (and Tronch itself) reject a mistyped or made-up key
/// without any lookup. The prefix is configurable for new keys; parsing accepts any well-formed prefix so that
/// keys issued before a prefix change keep working (the lookup decides whether a key exists).
package struct KeyFormat: Sendable, Hashable {
    /// Characters of the random part: 32 base62 characters, about 190 bits.
    package static let randomLength = 32
    /// Characters of the base62 CRC-32 checksum.
    package static let checksumLength = 6
    /// Longest allowed prefix.
    package static let maxPrefixLength = 16
    /// Characters of the random part shown in the `start` display hint.
    package static let hintLength = 4

    /// The prefix given to keys created now.
    package let prefix: String

    /// Fails when `prefix` is not 1–16 characters of `[a-z0-9]`.
    package init?(prefix: String) {
        guard Self.isValidPrefix(prefix) else { return nil }
        self.prefix = prefix
    }

    package static func isValidPrefix(_ prefix: String) -> Bool {
        let bytes = prefix.utf8
        return (1...maxPrefixLength).contains(bytes.count) && bytes.allSatisfy(isPrefixByte)
    }

    @inline(__always)
    static func isPrefixByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// A new key for `environment` with a random part from the system CSPRNG.
    package func generate(environment: KeyEnvironment) -> String {
        var generator = SystemRandomNumberGenerator()
        return generate(environment: environment, using: &generator)
    }

    /// A new key drawn from `generator` (tests pass a seeded one; production uses the system CSPRNG).
    package func generate(environment: KeyEnvironment, using generator: inout some RandomNumberGenerator) -> String {
        var bytes = Array("\(prefix)_sk_\(environment.rawValue)_".utf8)
        bytes += Base62.random(count: Self.randomLength, using: &generator)
        bytes += Base62.encode(CRC32.checksum(bytes), width: Self.checksumLength)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses `key` and checks its checksum, without allocating; nil for anything malformed.
    package static func parse(_ key: String) -> ParsedKey? {
        var key = key
        return key.withUTF8 { parse(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Parses UTF-8 bytes of a key; see ``parse(_:)``.
    package static func parse(utf8 bytes: UnsafeRawBufferPointer) -> ParsedKey? {
        // Shortest and longest possible keys.
        let fixed = "_sk_live_".utf8.count + randomLength + checksumLength
        guard bytes.count > fixed, bytes.count <= fixed + maxPrefixLength else { return nil }
        let prefixLength = bytes.count - fixed
        for index in 0..<prefixLength where !isPrefixByte(bytes[index]) { return nil }
        var index = prefixLength
        func expect(_ literal: StaticString) -> Bool {
            for byte in UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount) {
                guard bytes[index] == byte else { return false }
                index += 1
            }
            return true
        }
        guard expect("_sk_") else { return nil }
        let environment: KeyEnvironment
        if expect("live_") {
            environment = .live
        } else if expect("test_") {
            environment = .test
        } else {
            return nil
        }
        let randomStart = index
        for offset in 0..<randomLength where Base62.value(of: bytes[randomStart + offset]) == nil { return nil }
        let checksumStart = randomStart + randomLength
        var checksum: UInt64 = 0
        for offset in 0..<checksumLength {
            guard let digit = Base62.value(of: bytes[checksumStart + offset]) else { return nil }
            checksum = checksum * 62 + UInt64(digit)
        }
        guard checksum == UInt64(CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<checksumStart]))) else {
            return nil
        }
        return ParsedKey(prefixLength: prefixLength, environment: environment)
    }

    /// The display hints stored with a key: `start` (prefix, environment and the first characters of the
    /// random part) and `end` (the last four characters), enough to recognise a key but not to use it.
    package static func hints(for key: String) -> (start: String, end: String) {
        let bytes = Array(key.utf8)
        guard let parsed = parse(key) else {
            return (String(decoding: bytes.prefix(8), as: UTF8.self), String(decoding: bytes.suffix(4), as: UTF8.self))
        }
        let startLength = parsed.prefixLength + "_sk_live_".utf8.count + hintLength
        return (String(decoding: bytes.prefix(startLength), as: UTF8.self), String(decoding: bytes.suffix(4), as: UTF8.self))
    }
}

/// What parsing tells about a well-formed key.
package struct ParsedKey: Sendable, Hashable {
    package var prefixLength: Int
    package var environment: KeyEnvironment
}
