#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// Who an ACL entry or a group membership names: `user:<id>`, `group:<id>` or `key:<id>`.
package enum PrincipalReference: Sendable, Hashable, Comparable, CustomStringConvertible {
    case user(UUID)
    case group(UUID)
    case key(UUID)

    package init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), let id = UUID(strict: String(text[text.index(after: colon)...])) else {
            return nil
        }
        switch text[..<colon] {
        case "user": self = .user(id)
        case "group": self = .group(id)
        case "key": self = .key(id)
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .user(let id): "user:" + id.lowercased
        case .group(let id): "group:" + id.lowercased
        case .key(let id): "key:" + id.lowercased
        }
    }

    package var groupID: UUID? { if case .group(let id) = self { id } else { nil } }

    package static func < (lhs: PrincipalReference, rhs: PrincipalReference) -> Bool { lhs.description < rhs.description }
}
