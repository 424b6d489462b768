/// A resource in the ACL tree: `type:segment/segment/...` (`project:acme/web`, whose parent is `project:acme`;
/// `project:acme` has none). The type is a lower-case name; segments are non-empty and hold letters, digits
/// and `_ . - ~ @ +`, so that a name is its own canonical form (no escapes, no case folding, no dot segments).
package struct ResourceName: Sendable, Hashable, Comparable, CustomStringConvertible {
    package static let maxLength = 512
    package static let maxDepth = 32

    package let text: String
    /// Where the type ends (the colon).
    private let colon: String.Index

    package var type: Substring { text[..<colon] }
    package var path: Substring { text[text.index(after: colon)...] }
    package var description: String { text }

    /// Nil when `text` is not a resource name; ``problem(_:)`` says why.
    package init?(_ text: String) {
        guard Self.problem(text) == nil, let colon = text.firstIndex(of: ":") else { return nil }
        self.text = text
        self.colon = colon
    }

    private init(checked text: String, colon: String.Index) {
        self.text = text
        self.colon = colon
    }

    /// The resource one segment up; nil at the top (`type:segment`).
    package var parent: ResourceName? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        // A prefix of a valid name up to a '/' is a valid name: no need to check it again.
        let text = String(self.text[..<slash])
        return ResourceName(checked: text, colon: text.firstIndex(of: ":")!)
    }

    package static func == (lhs: ResourceName, rhs: ResourceName) -> Bool { lhs.text == rhs.text }
    package func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// Every ancestor, nearest first.
    package var ancestors: [ResourceName] {
        var result: [ResourceName] = []
        var current = parent
        while let next = current {
            result.append(next)
            current = next.parent
        }
        return result
    }

    package static func < (lhs: ResourceName, rhs: ResourceName) -> Bool { lhs.text < rhs.text }

    /// Nil when well-formed, otherwise why not.
    package static func problem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return "must not be empty" }
        guard bytes.count <= maxLength else { return "must be at most \(maxLength) characters" }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else {
            return "must be type:segment/segment/... (for example project:acme/web)"
        }
        let type = bytes[..<colon]
        guard let first = type.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), type.count <= 64,
            type.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
        else { return "the type (before ':') must be a lower-case name of at most 64 characters: letters, digits, _ and -" }
        let segments = bytes[(colon + 1)...].split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard segments.count <= maxDepth else { return "must have at most \(maxDepth) segments" }
        for segment in segments {
            guard !segment.isEmpty else { return "has an empty segment (a leading, trailing or doubled '/')" }
            guard segment.allSatisfy(isSegmentByte) else {
                return "segments may contain only letters, digits and _ . - ~ @ +"
            }
            guard !segment.elementsEqual(".".utf8), !segment.elementsEqual("..".utf8) else { return "has a '.' or '..' segment" }
        }
        return nil
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isSegmentByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "~"), UInt8(ascii: "@"), UInt8(ascii: "+"):
            true
        default: false
        }
    }
}
