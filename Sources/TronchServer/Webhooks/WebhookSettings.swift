import Foundation
package import TronchCore

/// Webhook deliveries (docs/webhooks.md).
package struct WebhookSettings: Sendable {
    /// Whether this node delivers (`TRONCH_WEBHOOKS_ENABLED`); the routes answer either way.
    package var enabled = true
    /// Networks delivered to even though private or loopback (`TRONCH_WEBHOOKS_ALLOWED_NETWORKS`).
    package var allowedNetworks: [CIDR] = []
    /// How long an attempt may take (`TRONCH_WEBHOOKS_TIMEOUT`, seconds).
    package var timeout: Duration = .seconds(10)
    /// Attempts before a delivery is `failed` (`TRONCH_WEBHOOKS_MAX_ATTEMPTS`).
    package var maxAttempts = 8
    /// How often the audit log is read for new events and due deliveries are looked for.
    package var pollInterval: Duration = .seconds(1)

    package init() {}

    static let fileSchema: [String: Settings.ValueKind] = [
        "webhooks.enabled": .boolean, "webhooks.allowedNetworks": .string, "webhooks.timeout": .seconds,
        "webhooks.maxAttempts": .integer,
    ]

    init(values: ValueReader) throws(ConfigurationError) {
        enabled = try values.bool("webhooks.enabled") ?? enabled
        if let list = try values.string("webhooks.allowedNetworks") {
            for item in list.split(separator: ",") {
                let text = item.filter { $0 != " " }
                do {
                    allowedNetworks.append(try CIDR(parsing: text))
                } catch {
                    throw ConfigurationError(key: "TRONCH_WEBHOOKS_ALLOWED_NETWORKS", "'\(text)': \(error)")
                }
            }
        }
        timeout = try values.seconds("webhooks.timeout", range: 1...60) ?? timeout
        if let attempts = try values.int("webhooks.maxAttempts") {
            guard (1...20).contains(attempts) else {
                throw ConfigurationError(key: "TRONCH_WEBHOOKS_MAX_ATTEMPTS", "must be between 1 and 20")
            }
            maxAttempts = attempts
        }
    }
}
