import Foundation
package import TronchCore

/// What `tronch serve` reads about groups, ACLs, checks and the permissions of its own routes (docs/authz.md).
package struct AuthzSettings: Sendable {
    package enum DecisionAudit: Sendable, Equatable {
        case off, denials, all
        /// A share (0 to 1) of all decisions, chosen at random.
        case sample(Double)
    }

    /// The answer when no entry matches (`TRONCH_AUTHZ_FALLBACK`: deny or allow).
    package var fallbackAllows = false
    /// Which decisions of `authz/check` are audited (`TRONCH_AUTHZ_AUDIT_DECISIONS`).
    package var auditDecisions = DecisionAudit.off
    /// Without Redis, how soon another node's change reaches this one: the stored version is read this often.
    package var refreshInterval: Duration = .seconds(1)

    /// What each route of Tronch's own API needs: the table in code with `TRONCH_ENDPOINT_PERMISSIONS` applied.
    package var endpointPolicy = EndpointPolicy.builtIn

    package init() {}

    static let fileSchema: [String: Settings.ValueKind] = [
        "authz.fallback": .string, "authz.auditDecisions": .string, "authz.refreshInterval": .seconds,
        "endpoint.permissions": .string, "endpoint.permissionsMode": .string,
    ]

    init(values: ValueReader) throws(ConfigurationError) {
        if let text = try values.string("authz.fallback") {
            switch text.lowercased() {
            case "deny": fallbackAllows = false
            case "allow": fallbackAllows = true
            default: throw ConfigurationError(key: "TRONCH_AUTHZ_FALLBACK", "must be deny or allow")
            }
        }
        if let text = try values.string("authz.auditDecisions") {
            switch text.lowercased() {
            case "off": auditDecisions = .off
            case "denials": auditDecisions = .denials
            case "all": auditDecisions = .all
            default:
                guard let share = Double(text), (0...1).contains(share) else {
                    throw ConfigurationError(key: "TRONCH_AUTHZ_AUDIT_DECISIONS", "must be off, denials, all, or a share between 0 and 1")
                }
                auditDecisions = .sample(share)
            }
        }
        refreshInterval = try values.seconds("authz.refreshInterval", range: 0.05...3600) ?? refreshInterval
        endpointPolicy = try Self.endpointPolicy(values)
    }

    /// The global mode (`TRONCH_ENDPOINT_PERMISSIONS_MODE`, default enforce), then the file's overrides: an
    /// unknown route, permission or mode stops start-up rather than leaving a rule silently unapplied.
    private static func endpointPolicy(_ values: ValueReader) throws(ConfigurationError) -> EndpointPolicy {
        var mode = EnforcementMode.enforce
        if let text = try values.string("endpoint.permissionsMode") {
            guard let parsed = EnforcementMode(rawValue: text.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_ENDPOINT_PERMISSIONS_MODE", "must be enforce, report-only or off")
            }
            mode = parsed
        }
        var overrides = EndpointOverrides(mode: mode)
        if let path = try values.string("endpoint.permissions"), !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(key: "TRONCH_ENDPOINT_PERMISSIONS", "cannot read '\(path)'")
            }
            do {
                overrides = try EndpointOverrides(json: data, mode: mode)
            } catch {
                throw ConfigurationError(key: "TRONCH_ENDPOINT_PERMISSIONS", "\(path): \(error.message)")
            }
        }
        do {
            return try EndpointPolicy(table: EndpointPolicy.table, overrides: overrides)
        } catch {
            throw ConfigurationError(key: "TRONCH_ENDPOINT_PERMISSIONS", error.message)
        }
    }
}
