#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// One entry of a resource's access-control list. An `acl` entry applies to its resource; a `dacl` entry is a
/// default for every descendant of its resource (not the resource itself) unless a nearer one overrides it.
package struct ACLEntry: Sendable, Hashable, Identifiable {
    package enum Effect: String, Sendable, Hashable, CaseIterable { case allow, deny }
    package enum Kind: String, Sendable, Hashable, CaseIterable { case acl, dacl }

    package var id: UUID
    package var resource: ResourceName
    package var principal: PrincipalReference
    /// An action name (`read`, `deploy`, `billing.export`) or `*` for every action.
    package var action: String
    package var effect: Effect
    package var kind: Kind
    package var createdAt: Date
    /// Who made it: a principal reference or a key reference, for the record.
    package var createdBy: String?

    package init(
        id: UUID,
        resource: ResourceName,
        principal: PrincipalReference,
        action: String,
        effect: Effect,
        kind: Kind,
        createdAt: Date,
        createdBy: String? = nil
    ) {
        self.id = id
        self.resource = resource
        self.principal = principal
        self.action = action
        self.effect = effect
        self.kind = kind
        self.createdAt = createdAt
        self.createdBy = createdBy
    }

    /// Two entries are the same rule when all of resource, principal, action, effect and kind agree.
    package var rule: Rule { Rule(resource: resource, principal: principal, action: action, effect: effect, kind: kind) }

    package struct Rule: Sendable, Hashable {
        package var resource: ResourceName
        package var principal: PrincipalReference
        package var action: String
        package var effect: Effect
        package var kind: Kind
    }

    package func matches(action requested: String) -> Bool { action == "*" || action == requested }
}

/// Action names: `*`, or 1 to 64 characters of lower-case letters, digits and `_ . : -`, starting with a letter.
package enum ActionName {
    package static func problem(_ action: String) -> String? {
        if action == "*" { return nil }
        let bytes = Array(action.utf8)
        guard let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), bytes.count <= 64 else {
            return "must be '*' or a name of at most 64 characters starting with a lower-case letter"
        }
        let allowed = bytes.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "-")
        }
        return allowed ? nil : "may contain only lower-case letters, digits and _ . : -"
    }
}
