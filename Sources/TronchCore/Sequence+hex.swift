extension Sequence<UInt8> {
    /// Lowercase hexadecimal, two digits a byte: how digests, MACs and key ids are stored and shown. Read from a
    /// table, since `String(format:)` or `String(_:radix:)` per byte costs an allocation a byte.
    package var hexEncoded: String {
        var digits = [UInt8]()
        digits.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            digits.append(lowercaseHexDigits[Int(byte >> 4)])
            digits.append(lowercaseHexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: digits, as: UTF8.self)
    }
}

private let lowercaseHexDigits: [UInt8] = Array("0123456789abcdef".utf8)
