/// Scope strings and their wildcards.
///
/// A scope is `name` or `resource:action` (letters, digits and `_ . : -`). Two wildcards: `*` covers every
/// scope, and `resource:*` covers every scope that starts with `resource:` (including `resource:*` itself and
/// deeper ones such as `resource:sub:action`).
package enum Scope {
    package static let maxLength = 128
    package static let maxCount = 64

    /// Whether `granted` covers `requested`. Wildcards in `requested` are covered only by an equal or wider
    /// wildcard, so this one test serves both "may this key do X" and "may this key grant X".
    package static func covers(_ granted: String, _ requested: String) -> Bool {
        if granted == "*" { return true }
        if granted.utf8.last == UInt8(ascii: "*") {
            let stem = granted.utf8.dropLast()  // "resource:"
            return requested.utf8.count > stem.count && requested.utf8.starts(with: stem)
        }
        return granted == requested
    }

    /// Whether any scope in `granted` covers `requested`.
    package static func isCovered(_ requested: String, by granted: [String]) -> Bool {
        granted.contains { covers($0, requested) }
    }

    /// The scopes of `requested` that nothing in `granted` covers.
    package static func uncovered(_ requested: [String], by granted: [String]) -> [String] {
        requested.filter { !isCovered($0, by: granted) }
    }

    /// Whether `scope` names (or could cover) one of Tronch's own permissions: `admin`, and everything under
    /// `keys:`, `audit:`, `metrics:` and `users:`. These names are reserved for Tronch's API; customers' scopes
    /// should use others.
    package static func isReserved(_ scope: String) -> Bool {
        scope == "admin" || scope.hasPrefix("keys:") || scope.hasPrefix("audit:") || scope.hasPrefix("metrics:")
            || scope.hasPrefix("users:") || scope.hasPrefix("tokens:") || scope.hasPrefix("authz:")
    }

    /// Nil when `scope` is well-formed, otherwise why not.
    package static func problem(with scope: String) -> String? {
        if scope == "*" { return nil }
        let bytes = Array(scope.utf8)
        guard !bytes.isEmpty else { return "must not be empty" }
        guard bytes.count <= maxLength else { return "must be at most \(maxLength) characters" }
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                continue
            case UInt8(ascii: ":"):
                if index == 0 || index == bytes.count - 1 || bytes[index - 1] == UInt8(ascii: ":") {
                    return "'\(scope)' has an empty segment"
                }
            case UInt8(ascii: "*"):
                guard index == bytes.count - 1, index > 0, bytes[index - 1] == UInt8(ascii: ":") else {
                    return "'\(scope)': a wildcard must be the whole scope ('*') or the last segment ('resource:*')"
                }
            default:
                return "'\(scope)' may contain only letters, digits and _ . : - (and a trailing :*)"
            }
        }
        return nil
    }
}
