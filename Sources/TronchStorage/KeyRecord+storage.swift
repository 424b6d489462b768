import Foundation
package import TronchCore

/// The JSON text columns of a key, encoded the same way by every backend.
package struct KeyJSONColumns: Sendable {
    package var scopes: String
    package var meta: String
    package var allowedIPs: String
    package var ratelimits: String
    package var refill: String?

    package init(_ settings: KeySettings) throws {
        scopes = try JSONValue.encodeCanonical(settings.scopes)
        meta = try JSONValue.encodeCanonical(settings.meta)
        allowedIPs = try JSONValue.encodeCanonical(settings.allowedIPs.map(\.description))
        ratelimits = try JSONValue.encodeCanonical(settings.ratelimits)
        refill = try settings.refill.map { try JSONValue.encodeCanonical($0) }
    }

    package static func decodeScopes(_ text: String) throws -> [String] {
        try JSONValue.decode([String].self, from: text)
    }

    package static func decodeMeta(_ text: String) throws -> [String: JSONValue] {
        try JSONValue.decode([String: JSONValue].self, from: text)
    }

    package static func decodeAllowedIPs(_ text: String) throws -> [CIDR] {
        try JSONValue.decode([String].self, from: text).map { try CIDR(parsing: $0) }
    }

    package static func decodeRatelimits(_ text: String) throws -> [RateLimitPolicy] {
        try JSONValue.decode([RateLimitPolicy].self, from: text)
    }

    package static func decodeRefill(_ text: String?) throws -> Refill? {
        try text.map { try JSONValue.decode(Refill.self, from: $0) }
    }
}

extension KeyQuery {
    /// Clamped page size.
    package var pageSize: Int { min(max(limit, 1), 1000) }
}
