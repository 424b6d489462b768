/// What a route of Tronch's own API needs of its caller: its `x-tronch-permission` in the OpenAPI document.
package enum EndpointRequirement: Sendable, Hashable {
    /// No credential at all (health, logging in, the gateway check).
    case open
    /// Any authenticated caller (`self`): the route acts on the caller's own account, session or keys.
    case authenticated
    /// Any authenticated caller here (`self or users:manage`); the route itself needs the permission when
    /// the target is someone else.
    case selfOr(Permission)
    /// A permission of Tronch's own API.
    case permission(Permission)
    /// Only an administrator.
    case admin

    /// The name in the OpenAPI document and in override files.
    package var name: String {
        switch self {
        case .open: "public"
        case .authenticated: "self"
        case .selfOr(let permission): "self or \(permission.rawValue)"
        case .permission(let permission): permission.rawValue
        case .admin: Principal.adminScope
        }
    }

    /// What an override may ask for: a permission, `admin` or `self`. Never `public`: the credential check
    /// comes before this one, so an override cannot open a route, only change what it needs.
    package init?(overrideName name: String) {
        switch name {
        case "self": self = .authenticated
        case Principal.adminScope: self = .admin
        default:
            guard let permission = Permission(rawValue: name) else { return nil }
            self = .permission(permission)
        }
    }

    package func admits(_ principal: Principal) -> Bool {
        switch self {
        case .open, .authenticated, .selfOr: true
        case .permission(let permission): principal.allows(permission)
        case .admin: principal.isAdmin
        }
    }

    /// The problem detail of a refusal; a permission keeps milestone 1's wording.
    package var refusal: String {
        switch self {
        case .permission(let permission): "this route requires the scope \(permission.rawValue)"
        case .admin: "this route requires an administrator"
        default: "this route is not open to this caller"
        }
    }
}

/// How a route's requirement is applied: rules can be switched on gradually.
package enum EnforcementMode: String, Sendable, CaseIterable {
    /// A caller that does not meet the requirement gets 403.
    case enforce
    /// The request goes through; what would have been refused is logged, counted and audited.
    case reportOnly = "report-only"
    /// The requirement is not checked (rules on the target, such as a member's own keys, still apply).
    case off
}

/// A route's requirement and how it is applied.
package struct EndpointRule: Sendable, Hashable {
    package var route: String
    package var requirement: EndpointRequirement
    package var mode: EnforcementMode

    package init(route: String, requirement: EndpointRequirement, mode: EnforcementMode) {
        self.route = route
        self.requirement = requirement
        self.mode = mode
    }
}

/// The rules of every route of Tronch's own API: the table in code, with an operator's overrides applied.
///
/// Routes are named as in the OpenAPI document, `METHOD /path/{param}`. Lookup is by the router's
/// matched pattern, so it costs two dictionary reads per request and never parses the path again.
package struct EndpointPolicy: Sendable {
    package struct Failure: Error, Equatable, CustomStringConvertible {
        package var message: String
        package var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// Path pattern → method → rule.
    private var rules: [String: [String: EndpointRule]] = [:]

    /// Every rule, in route order: what `GET /api/v1/openapi.json` and the docs publish.
    package var all: [EndpointRule] {
        rules.values.flatMap(\.values).sorted { $0.route < $1.route }
    }

    /// The table as it is in code, every rule enforced.
    package init(table: [(route: String, requirement: EndpointRequirement)]) throws(Failure) {
        try self.init(table: table, overrides: .init())
    }

    package init(table: [(route: String, requirement: EndpointRequirement)], overrides: EndpointOverrides) throws(Failure) {
        for (route, requirement) in table {
            guard let (method, path) = Self.split(route) else { throw Failure("route '\(route)' is not 'METHOD /path'") }
            guard rules[path]?[method] == nil else { throw Failure("route '\(route)' is declared twice") }
            let mode = requirement == .open ? .enforce : overrides.mode
            rules[path, default: [:]][method] = EndpointRule(route: route, requirement: requirement, mode: mode)
        }
        for (route, override) in overrides.routes {
            guard let (method, path) = Self.split(route), var rule = rules[path]?[method] else {
                throw Failure("routes: '\(route)' is not a route of Tronch's API (write it as in the OpenAPI document, e.g. 'GET /api/v1/keys/{id}')")
            }
            guard rule.requirement != .open else { throw Failure("routes: '\(route)' needs no credential and cannot be overridden") }
            if let requirement = override.requirement { rule.requirement = requirement }
            if let mode = override.mode { rule.mode = mode }
            rules[path]![method] = rule
        }
    }

    /// The rule of a matched route; nil for a route the table does not declare.
    package func rule(method: String, path: String) -> EndpointRule? { rules[path]?[method] }

    private static func split(_ route: String) -> (method: String, path: String)? {
        let parts = route.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].allSatisfy({ $0.isUppercase }), parts[1].hasPrefix("/") else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}

/// An operator's changes to the table (`TRONCH_ENDPOINT_PERMISSIONS`, a JSON file):
/// `{"mode": "report-only", "routes": {"GET /api/v1/keys/{id}/usage": {"permission": "audit:read", "mode": "enforce"}}}`.
package struct EndpointOverrides: Sendable, Equatable {
    package struct Route: Sendable, Equatable {
        package var requirement: EndpointRequirement?
        package var mode: EnforcementMode?

        package init(requirement: EndpointRequirement? = nil, mode: EnforcementMode? = nil) {
            self.requirement = requirement
            self.mode = mode
        }
    }

    /// The mode of every route that does not name its own.
    package var mode: EnforcementMode
    package var routes: [String: Route]

    package init(mode: EnforcementMode = .enforce, routes: [String: Route] = [:]) {
        self.mode = mode
        self.routes = routes
    }

    /// Reads an override file; `mode` is the default when the file does not set one.
    package init(json bytes: some Collection<UInt8>, mode defaultMode: EnforcementMode) throws(EndpointPolicy.Failure) {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch { throw .init("not valid JSON: \(error)") }
        guard case .object(let top) = document else { throw .init("must be a JSON object with 'mode' and 'routes'") }
        for key in top.keys where key != "mode" && key != "routes" { throw .init("unknown field '\(key)' (expected 'mode' and 'routes')") }
        mode = try Self.mode(top["mode"], at: "mode") ?? defaultMode
        routes = [:]
        guard let value = top["routes"], value != .null else { return }
        guard case .object(let entries) = value else { throw .init("routes: must be an object of 'METHOD /path' → rule") }
        for (route, value) in entries {
            guard case .object(let fields) = value else { throw .init("routes: '\(route)': must be an object with 'permission' and/or 'mode'") }
            for key in fields.keys where key != "permission" && key != "mode" {
                throw .init("routes: '\(route)': unknown field '\(key)' (expected 'permission' and 'mode')")
            }
            var override = Route()
            if let permission = fields["permission"] {
                guard let name = permission.string, let requirement = EndpointRequirement(overrideName: name) else {
                    throw .init(
                        "routes: '\(route)': permission must be one of \((Permission.allCases.map(\.rawValue) + ["admin", "self"]).joined(separator: ", "))"
                    )
                }
                override.requirement = requirement
            }
            override.mode = try Self.mode(fields["mode"], at: "routes: '\(route)': mode")
            guard override != Route() else { throw .init("routes: '\(route)': names neither a permission nor a mode") }
            routes[route] = override
        }
    }

    private static func mode(_ value: JSONValue?, at field: String) throws(EndpointPolicy.Failure) -> EnforcementMode? {
        guard let value, value != .null else { return nil }
        guard let text = value.string, let mode = EnforcementMode(rawValue: text) else {
            throw .init("\(field) must be enforce, report-only or off")
        }
        return mode
    }
}
