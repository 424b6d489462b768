/// What `tronch serve` reads about groups, ACLs and checks (docs/authz.md).
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

    package init() {}

    static let fileSchema: [String: Settings.ValueKind] = [
        "authz.fallback": .string, "authz.auditDecisions": .string, "authz.refreshInterval": .seconds,
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
    }
}
