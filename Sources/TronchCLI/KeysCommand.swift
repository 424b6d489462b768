import ArgumentParser
import Foundation
import NIOHTTP1
import TronchCore

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage keys on a running Tronch server.",
        discussion: "The server comes from --server or TRONCH_URL, the credential from TRONCH_API_KEY.",
        subcommands: [
            Create.self, List.self, Show.self, Update.self, Revoke.self, Rotate.self, Verify.self, Usage.self, Import.self,
            Generate.self, RotatePepper.self, PepperStatus.self,
        ]
    )
}

/// Where the server is and how to print its answers.
struct ClientOptions: ParsableArguments {
    @Option(help: "Base URL of the Tronch server (TRONCH_URL, default http://127.0.0.1:8080).")
    var server: String?

    @Flag(help: "Print the server's JSON instead of a table.")
    var json = false

    func client() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        guard let apiKey = environment["TRONCH_API_KEY"], !apiKey.isEmpty else {
            throw CLIError(
                "set TRONCH_API_KEY to a key (the root key works) or an access token (tronch login) with the permissions this command needs"
            )
        }
        return APIClient(baseURL: baseURL, apiKey: apiKey)
    }

    /// A client that sends no credential (for logging in).
    func anonymousClient() -> APIClient { APIClient(baseURL: baseURL, apiKey: nil) }

    var baseURL: String { server ?? ProcessInfo.processInfo.environment["TRONCH_URL"] ?? "http://127.0.0.1:8080" }

    func printKey(_ key: JSONValue) {
        if json {
            print(key.prettyJSON)
            return
        }
        let fields: [(String, String)] = [
            ("id", "id"), ("name", "name"), ("owner", "owner_id"), ("environment", "environment"),
            ("status", "status"), ("enabled", "enabled"), ("scopes", "scopes"), ("key", "start"),
            ("created", "created_at"), ("updated", "updated_at"), ("expires", "expires_at"),
            ("last used", "last_used_at"), ("revoked", "revoked_at"), ("rotated from", "rotated_from"),
            ("grace until", "grace_until"), ("allowed ips", "allowed_ips"), ("rate limits", "ratelimits"),
            ("remaining", "remaining"), ("refill", "refill"), ("meta", "meta"), ("created by", "created_by"),
        ]
        let width = fields.map(\.0.count).max() ?? 0
        for (label, name) in fields {
            var value = key[name]?.text ?? "-"
            if name == "start" { value = "\(value)…\(key["end"]?.text ?? "")" }
            if name == "scopes", case .array(let scopes)? = key[name] { value = scopes.map(\.text).joined(separator: " ") }
            print("\(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)")
        }
        if case .string(let secret)? = key["key"] {
            print("\nsecret  \(secret)\n\nThis is the only time the secret is shown; store it now.")
        }
    }
}

/// Settings shared by `create` and `update`, turned into the API's JSON fields.
struct KeySettingOptions: ParsableArguments {
    @Option(help: "A name for the key.") var name: String?
    @Option(help: "The customer the key belongs to.") var owner: String?
    @Option(name: .customLong("scope"), help: "A scope (repeat for several; replaces them on update).") var scopes: [String] = []
    @Option(help: "A JSON object of metadata.") var meta: String?
    @Option(name: .customLong("expires-at"), help: "Expiry as RFC 3339, e.g. 2030-01-31T00:00:00Z.") var expiresAt: String?
    @Option(name: .customLong("allowed-ip"), help: "An allowed IP or CIDR range (repeatable).") var allowedIPs: [String] = []
    @Option(name: .customLong("ratelimit"), help: "A rate limit NAME:LIMIT/SECONDS[:BURST] or LIMIT/SECONDS (repeatable).")
    var ratelimits: [String] = []
    @Option(help: "Usage credits; the key stops at zero.") var remaining: Int64?
    @Option(help: "Refill credits: daily:AMOUNT or monthly:AMOUNT.") var refill: String?

    func fields() throws -> [String: JSONValue] {
        var body: [String: JSONValue] = [:]
        if let name { body["name"] = .string(name) }
        if let owner { body["owner_id"] = .string(owner) }
        if !scopes.isEmpty { body["scopes"] = .array(scopes.map(JSONValue.string)) }
        if let meta {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(meta.utf8)), case .object = value else {
                throw CLIError("--meta must be a JSON object")
            }
            body["meta"] = value
        }
        if let expiresAt { body["expires_at"] = .string(expiresAt) }
        if !allowedIPs.isEmpty { body["allowed_ips"] = .array(allowedIPs.map(JSONValue.string)) }
        if !ratelimits.isEmpty { body["ratelimits"] = .array(try ratelimits.map(Self.ratelimit)) }
        if let remaining { body["remaining"] = .int(remaining) }
        if let refill {
            let parts = refill.split(separator: ":")
            guard parts.count == 2, let amount = Int64(parts[1]) else {
                throw CLIError("--refill must be daily:AMOUNT or monthly:AMOUNT")
            }
            body["refill"] = .object(["interval": .string(String(parts[0])), "amount": .int(amount)])
        }
        return body
    }

    static func ratelimit(_ text: String) throws -> JSONValue {
        var parts = text.split(separator: ":").map(String.init)
        let name = parts.count >= 2 && parts[0].contains("/") == false ? parts.removeFirst() : "default"
        guard let rate = parts.first, let slash = rate.firstIndex(of: "/"),
            let limit = Int64(rate[..<slash]), let period = Int64(rate[rate.index(after: slash)...])
        else { throw CLIError("--ratelimit must look like 100/60 or api:100/60:150") }
        var policy: [String: JSONValue] = ["name": .string(name), "limit": .int(limit), "period_seconds": .int(period)]
        if parts.count == 2 {
            guard let burst = Int64(parts[1]) else { throw CLIError("--ratelimit burst must be a number") }
            policy["burst"] = .int(burst)
        }
        return .object(policy)
    }
}

extension KeysCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print its secret once.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var settings: KeySettingOptions
        @Option(help: "live or test (default live).") var env: String?
        @Flag(help: "Create the key disabled.") var disabled = false

        func run() async throws {
            var body = try settings.fields()
            if let env { body["environment"] = .string(env) }
            if disabled { body["enabled"] = .bool(false) }
            client.printKey(try await client.client().send(.POST, "/api/v1/keys", body: .object(body)))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys, newest first.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Only keys of this owner.") var owner: String?
        @Option(help: "live or test.") var env: String?
        @Option(help: "active, revoked or expired.") var status: String?
        @Option(name: .customLong("name-prefix"), help: "Only keys whose name starts with this.") var namePrefix: String?
        @Option(name: .customLong("expiring-within"), help: "Only working keys that stop working within this span (7d, 12h, 30m).")
        var expiringWithin: String?
        @Option(help: "Keys per page (1-100).") var limit: Int?
        @Option(help: "Continue from a previous page's cursor.") var cursor: String?
        @Flag(help: "Follow cursors and list every matching key.") var all = false

        func run() async throws {
            let api = try client.client()
            var query = [(String, String)]()
            if let owner { query.append(("owner_id", owner)) }
            if let env { query.append(("environment", env)) }
            if let status { query.append(("status", status)) }
            if let namePrefix { query.append(("name_prefix", namePrefix)) }
            if let expiringWithin { query.append(("expiring_within", expiringWithin)) }
            if let limit { query.append(("limit", String(limit))) }
            var keys = [JSONValue]()
            var next = cursor
            repeat {
                let page = try await api.send(.GET, "/api/v1/keys", query: query + (next.map { [("cursor", $0)] } ?? []))
                if case .array(let data)? = page["data"] { keys += data }
                next = page["next_cursor"].flatMap { if case .string(let value) = $0 { value } else { nil } }
                if !all {
                    if client.json {
                        print(page.prettyJSON)
                        return
                    }
                    break
                }
            } while next != nil
            if client.json {
                print(JSONValue.object(["data": .array(keys), "next_cursor": .null]).prettyJSON)
                return
            }
            print(
                Table(
                    headers: ["ID", "NAME", "OWNER", "ENV", "STATUS", "SCOPES", "KEY", "CREATED"],
                    rows: keys.map { key in
                        let scopes: String = if case .array(let list)? = key["scopes"] { list.map(\.text).joined(separator: ",") } else { "-" }
                        return [
                            key["id"]?.text ?? "-", key["name"]?.text ?? "-", key["owner_id"]?.text ?? "-",
                            key["environment"]?.text ?? "-", key["status"]?.text ?? "-", scopes.isEmpty ? "-" : scopes,
                            "\(key["start"]?.text ?? "")…\(key["end"]?.text ?? "")", key["created_at"]?.text ?? "-",
                        ]
                    }
                ).rendered
            )
            if !all, let next { print("\nmore: tronch keys list --cursor \(next)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one key.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key's id.") var id: String

        func run() async throws {
            client.printKey(try await client.client().send(.GET, "/api/v1/keys/\(try pathSegment(id))"))
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's settings.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var settings: KeySettingOptions
        @Argument(help: "The key's id.") var id: String
        @Flag(help: "Enable the key.") var enable = false
        @Flag(help: "Disable the key (it fails verification with DISABLED).") var disable = false
        @Flag(name: .customLong("no-expiry"), help: "Remove the expiry.") var noExpiry = false
        @Flag(name: .customLong("unlimited"), help: "Remove the usage credit limit.") var unlimited = false
        @Flag(name: .customLong("clear-allowed-ips"), help: "Allow every address.") var clearAllowedIPs = false
        @Flag(name: .customLong("clear-ratelimits"), help: "Remove every rate limit.") var clearRatelimits = false

        func run() async throws {
            if enable && disable { throw CLIError("--enable and --disable exclude each other") }
            var body = try settings.fields()
            if enable { body["enabled"] = .bool(true) }
            if disable { body["enabled"] = .bool(false) }
            if noExpiry { body["expires_at"] = .null }
            if unlimited {
                body["remaining"] = .null
                body["refill"] = .null
            }
            if clearAllowedIPs { body["allowed_ips"] = .array([]) }
            if clearRatelimits { body["ratelimits"] = .array([]) }
            if body.isEmpty { throw CLIError("nothing to change: pass at least one option (see --help)") }
            client.printKey(try await client.client().send(.PATCH, "/api/v1/keys/\(try pathSegment(id))", body: .object(body)))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key for good.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key's id.") var id: String

        func run() async throws {
            client.printKey(try await client.client().send(.DELETE, "/api/v1/keys/\(try pathSegment(id))"))
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a key by a new one with the same settings and print the new secret once."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key's id.") var id: String
        @Option(help: "Seconds the old key keeps working (default 0: it stops at once).") var grace: Int64 = 0
        @Option(name: .customLong("expires-at"), help: "A new expiry for the new key (RFC 3339).") var expiresAt: String?

        func run() async throws {
            var body: [String: JSONValue] = ["grace_period_seconds": .int(grace)]
            if let expiresAt { body["expires_at"] = .string(expiresAt) }
            client.printKey(
                try await client.client().send(.POST, "/api/v1/keys/\(try pathSegment(id))/rotate", body: .object(body))
            )
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a key; exits 0 when it is valid, 1 when it is not.",
            discussion: "The credential in TRONCH_API_KEY needs the keys:verify scope."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key to verify.") var key: String
        @Option(name: .customLong("scope"), help: "A scope the key must hold (repeatable).") var scopes: [String] = []
        @Option(help: "The client address to check against the key's allowlist.") var ip: String?

        func run() async throws {
            var body: [String: JSONValue] = ["key": .string(key)]
            if !scopes.isEmpty { body["scopes"] = .array(scopes.map(JSONValue.string)) }
            if let ip { body["ip"] = .string(ip) }
            let result = try await client.client().send(.POST, "/api/v1/keys/verify", body: .object(body))
            if client.json {
                print(result.prettyJSON)
            } else {
                print("\(result["code"]?.text ?? "?")  key_id=\(result["key_id"]?.text ?? "-")  owner=\(result["owner_id"]?.text ?? "-")")
            }
            if result["valid"] != .bool(true) { throw ExitCode.failure }
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new well-formed key without contacting a server (for TRONCH_BOOTSTRAP_ROOT_KEY)."
        )
        @Option(help: "live or test.") var env: String = "live"
        @Option(help: "The key prefix.") var prefix: String = "tronch"

        func run() throws {
            guard let environment = KeyEnvironment(rawValue: env) else { throw CLIError("--env must be live or test") }
            guard let format = KeyFormat(prefix: prefix) else { throw CLIError("--prefix must be 1-16 characters of a-z and 0-9") }
            print(format.generate(environment: environment))
        }
    }
}

/// Key ids are UUIDs; refusing anything else here keeps odd input out of the URL path.
func pathSegment(_ id: String) throws -> String {
    guard UUID(strict: id) != nil else { throw CLIError("'\(id)' is not a key id (a UUID)") }
    return id.lowercased()
}

extension JSONValue {
    var prettyJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? ""
    }
}
