/// Comparisons of secrets (MACs, codes, tokens) whose time does not depend on where they differ.
package enum ConstantTime {
    /// Whether `a` and `b` are equal; the time depends only on their lengths.
    package static func equal(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether two strings are equal byte for byte (UTF-8).
    package static func equal(_ a: String, _ b: String) -> Bool { equal(Array(a.utf8), Array(b.utf8)) }
}
