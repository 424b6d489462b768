/// An IPv4 or IPv6 address, parsed without Foundation or libc so it can run in the pure core.
package enum IPAddress: Sendable, Hashable {
    case v4(UInt32)
    /// 128 bits as high and low words.
    case v6(UInt64, UInt64)

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` and an embedded IPv4 tail). Zone ids,
    /// brackets, ports and leading zeros in IPv4 octets are rejected.
    package init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        if bytes.contains(UInt8(ascii: ":")) {
            guard let (high, low) = Self.parseV6(bytes) else { return nil }
            self = .v6(high, low)
        } else {
            guard let value = Self.parseV4(bytes[...]) else { return nil }
            self = .v4(value)
        }
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), which is how dual-stack
    /// sockets report IPv4 clients.
    package var unmapped: IPAddress {
        if case .v6(let high, let low) = self, high == 0, low >> 32 == 0xFFFF {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        return self
    }

    static func parseV4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        for part in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ (48...57).contains($0) }) else { return nil }
            if part.count > 1 && part.first == UInt8(ascii: "0") { return nil }
            let octet = part.reduce(0) { $0 * 10 + UInt32($1 - 48) }
            guard octet <= 255 else { return nil }
            value = value << 8 | octet
            octets += 1
        }
        return octets == 4 ? value : nil
    }

    static func parseV6(_ bytes: [UInt8]) -> (UInt64, UInt64)? {
        guard bytes.count >= 2, bytes.count <= 45 else { return nil }
        var head = [UInt16]()
        var tail = [UInt16]()
        var sawGap = false
        let text = bytes[...]
        if let gap = Self.range(of: [58, 58], in: text) {
            sawGap = true
            let before = text[..<gap.lowerBound]
            let after = text[gap.upperBound...]
            if Self.range(of: [58, 58], in: after) != nil { return nil }
            guard let left = Self.hextets(before, allowV4: false, allowEmpty: true),
                let right = Self.hextets(after, allowV4: true, allowEmpty: true)
            else { return nil }
            head = left
            tail = right
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard let all = Self.hextets(text, allowV4: true, allowEmpty: false), all.count == 8 else { return nil }
            head = all
        }
        var words = head
        if sawGap { words += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail }
        guard words.count == 8 else { return nil }
        let high = words[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = words[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }

    private static func range(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index..<index + needle.count].elementsEqual(needle) { return index..<index + needle.count }
            index += 1
        }
        return nil
    }

    /// Colon-separated hextets; the last may be an IPv4 tail (two hextets) when `allowV4`.
    private static func hextets(_ text: ArraySlice<UInt8>, allowV4: Bool, allowEmpty: Bool) -> [UInt16]? {
        if text.isEmpty { return allowEmpty ? [] : nil }
        let parts = text.split(separator: 58, omittingEmptySubsequences: false)
        var result = [UInt16]()
        for (index, part) in parts.enumerated() {
            if allowV4 && index == parts.count - 1 && part.contains(UInt8(ascii: ".")) {
                guard let v4 = parseV4(part) else { return nil }
                result.append(UInt16(v4 >> 16))
                result.append(UInt16(v4 & 0xFFFF))
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var value: UInt16 = 0
            for byte in part {
                let digit: UInt16
                switch byte {
                case 48...57: digit = UInt16(byte - 48)
                case 97...102: digit = UInt16(byte - 87)
                case 65...70: digit = UInt16(byte - 55)
                default: return nil
                }
                value = value << 4 | digit
            }
            result.append(value)
        }
        return result
    }
}

extension IPAddress: CustomStringConvertible {
    /// Dotted quad for IPv4; RFC 5952 canonical text for IPv6 (lowercase, longest zero run compressed).
    package var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        case .v6(let high, let low):
            let words = (0..<8).map { index -> UInt16 in
                let word = index < 4 ? high : low
                return UInt16(truncatingIfNeeded: word >> (UInt64(3 - index % 4) * 16))
            }
            var bestStart = -1
            var bestLength = 0
            var index = 0
            while index < 8 {
                if words[index] == 0 {
                    var end = index
                    while end < 8 && words[end] == 0 { end += 1 }
                    if end - index > bestLength { (bestStart, bestLength) = (index, end - index) }
                    index = end
                } else {
                    index += 1
                }
            }
            func hex(_ slice: ArraySlice<UInt16>) -> String {
                slice.map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestLength < 2 { return hex(words[...]) }
            return hex(words[..<bestStart]) + "::" + hex(words[(bestStart + bestLength)...])
        }
    }
}

/// An IPv4 or IPv6 network in CIDR notation, as used by a key's IP allowlist.
package struct CIDR: Sendable, Hashable {
    package let network: IPAddress
    package let prefixLength: Int

    package enum ParseError: Error, Equatable, CustomStringConvertible {
        case invalid(String)
        case hostBitsSet(String, suggestion: String)

        package var description: String {
            switch self {
            case .invalid(let text): "'\(text)' is not an IPv4 or IPv6 address or CIDR range"
            case .hostBitsSet(let text, let suggestion): "'\(text)' has host bits set; did you mean '\(suggestion)'?"
            }
        }
    }

    /// Parses `a.b.c.d/n`, `x:y::z/n`, or a bare address (a single host, /32 or /128).
    package init(parsing text: String) throws(ParseError) {
        let pieces = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(pieces[0]) else { throw .invalid(text) }
        let maxLength = if case .v4 = address { 32 } else { 128 }
        var length = maxLength
        if pieces.count == 2 {
            let digits = pieces[1]
            guard !digits.isEmpty, digits.count <= 3, digits.utf8.allSatisfy({ (48...57).contains($0) }),
                let value = Int(digits), value <= maxLength, !(digits.count > 1 && digits.first == "0")
            else { throw .invalid(text) }
            length = value
        }
        let masked = Self.mask(address, length)
        guard masked == address else { throw .hostBitsSet(text, suggestion: "\(masked)/\(length)") }
        self.network = address
        self.prefixLength = length
    }

    static func mask(_ address: IPAddress, _ length: Int) -> IPAddress {
        switch address {
        case .v4(let value):
            let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
            return .v4(value & mask)
        case .v6(let high, let low):
            let highMask: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~UInt64(0) << UInt64(64 - length))
            let lowMask: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~UInt64(0) << UInt64(128 - length))
            return .v6(high & highMask, low & lowMask)
        }
    }

    /// Whether `address` is inside this network; an IPv4-mapped IPv6 address matches IPv4 networks.
    package func contains(_ address: IPAddress) -> Bool {
        let candidate: IPAddress
        switch (network, address) {
        case (.v4, .v6): candidate = address.unmapped
        default: candidate = address
        }
        switch (network, candidate) {
        case (.v4, .v4), (.v6, .v6): return Self.mask(candidate, prefixLength) == network
        default: return false
        }
    }
}

extension CIDR: CustomStringConvertible {
    package var description: String { "\(network)/\(prefixLength)" }
}
