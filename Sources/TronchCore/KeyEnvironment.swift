/// Which side of a customer's integration a key belongs to; part of the key's visible format.
package enum KeyEnvironment: String, Sendable, Codable, CaseIterable, Hashable {
    case live
    case test
}
