/// Base62 with the alphabet `0-9A-Za-z`, the encoding of the random part and the checksum of a key.
package enum Base62 {
    /// The alphabet in order of value.
    package static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The value of an ASCII byte, or nil when it is not in the alphabet.
    @inline(__always)
    package static func value(of byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(byte &- UInt8(ascii: "A")) &+ 10
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(byte &- UInt8(ascii: "a")) &+ 36
        default: nil
        }
    }

    /// `value` in base62, left-padded with `0` to `width` characters (6 is enough for any `UInt32`).
    package static func encode(_ value: UInt32, width: Int) -> [UInt8] {
        var digits = [UInt8](repeating: alphabet[0], count: width)
        var rest = value
        var index = width - 1
        while rest > 0 && index >= 0 {
            digits[index] = alphabet[Int(rest % 62)]
            rest /= 62
            index -= 1
        }
        return digits
    }

    /// `count` characters drawn uniformly from the alphabet with the given generator.
    ///
    /// Rejection sampling (bytes ≥ 248 are discarded) keeps every character equally likely; `byte % 62`
    /// alone would favour the first eight.
    package static func random(count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(count)
        while result.count < count {
            var word = generator.next()
            for _ in 0..<8 where result.count < count {
                let byte = UInt8(truncatingIfNeeded: word)
                word >>= 8
                if byte < 248 { result.append(alphabet[Int(byte % 62)]) }
            }
        }
        return result
    }
}
