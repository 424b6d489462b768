import ArgumentParser
import Foundation
import NIOHTTP1
import TronchCore

/// `tronch authz`: asks a running server what its permissions decide.
struct AuthzCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authz",
        abstract: "Ask a running Tronch server about groups and resource ACLs (a key or token with authz:check).",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "May a principal do an action on a resource?",
            discussion: """
                Prints the decision and the rule that made it (acl_deny, acl_allow, dacl_deny, dacl_allow, fallback, key_scope) \
                with the deciding entry and the resource it is on. Exits 0 when allowed, 3 when denied, 1 on an error, \
                so scripts can test it: tronch authz check --principal user:… --action read --resource project:acme/web && …
                """
        )
        @OptionGroup var client: ClientOptions
        @Option(help: "user:<id>, group:<id> or key:<id>.") var principal: String
        @Option(help: "The action, e.g. read.") var action: String
        @Option(help: "The resource, type:segment/segment/… (e.g. project:acme/web).") var resource: String

        /// The exit status of a denial: distinct from 1, the status of every failure.
        static let denied = ExitCode(3)

        func run() async throws {
            let answer = try await client.client().send(
                .POST,
                "/api/v1/authz/check",
                body: ["principal": .string(principal), "action": .string(action), "resource": .string(resource)]
            )
            if client.json {
                print(answer.prettyJSON)
            } else {
                print(Self.describe(answer))
            }
            if answer["allowed"] != .bool(true) { throw Self.denied }
        }

        /// `allowed: acl_allow (entry 01…, on project:acme)`.
        static func describe(_ answer: JSONValue) -> String {
            let verdict = answer["allowed"] == .bool(true) ? "allowed" : "denied"
            let reason = answer["reason"]
            var text = "\(verdict): \(reason?["rule"]?.text ?? "-")"
            var details = [String]()
            if let entry = reason?["entry_id"]?.string { details.append("entry \(entry)") }
            if let resource = reason?["resource"]?.string { details.append("on \(resource)") }
            if !details.isEmpty { text += " (\(details.joined(separator: ", ")))" }
            return text
        }
    }
}
