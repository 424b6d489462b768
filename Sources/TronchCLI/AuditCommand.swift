import ArgumentParser
import Foundation
import NIOHTTP1
import TronchCore
import TronchServer
import TronchStorage

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read, export and verify the audit log.",
        subcommands: [List.self, Export.self, Verify.self]
    )

    /// Filters shared by `list` and `export`, as the API's query parameters.
    struct Filters: ParsableArguments {
        @Option(help: "Only entries of this actor (a key or user id).") var actor: String?
        @Option(help: "Only this action, for example key.revoked or auth.failed.") var action: String?
        @Option(help: "Only entries about this target (a key, user or session id).") var target: String?
        @Option(help: "success or failure.") var outcome: String?
        @Option(help: "Entries at or after this RFC 3339 time.") var from: String?
        @Option(help: "Entries before this RFC 3339 time.") var to: String?

        var query: [(String, String)] {
            [("actor_id", actor), ("action", action), ("target_id", target), ("outcome", outcome), ("from", from), ("to", to)]
                .compactMap { name, value in value.map { (name, $0) } }
        }
    }

    /// Every matching entry, newest first, page by page.
    static func entries(
        _ api: APIClient, query: [(String, String)], limit: Int? = nil, each: (JSONValue) throws -> Void
    ) async throws {
        var next: String?
        var seen = 0
        repeat {
            let page = try await api.send(
                .GET, "/api/v1/audit-logs", query: query + [("limit", "100")] + (next.map { [("cursor", $0)] } ?? [])
            )
            if case .array(let data)? = page["data"] {
                for entry in data {
                    if let limit, seen >= limit { return }
                    try each(entry)
                    seen += 1
                }
            }
            next = page["next_cursor"].flatMap { if case .string(let value) = $0 { value } else { nil } }
        } while next != nil
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List audit entries, newest first.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var filters: Filters
        @Option(help: "At most this many entries.") var limit: Int = 50

        func run() async throws {
            var rows = [JSONValue]()
            try await AuditCommand.entries(try client.client(), query: filters.query, limit: limit) { rows.append($0) }
            if client.json {
                print(JSONValue.array(rows).prettyJSON)
                return
            }
            print(
                Table(
                    headers: ["SEQ", "TIME", "ACTION", "OUTCOME", "ACTOR", "TARGET", "REQUEST"],
                    rows: rows.map { entry in
                        [
                            entry["sequence"]?.text ?? "-", entry["time"]?.text ?? "-", entry["action"]?.text ?? "-",
                            entry["outcome"]?.text ?? "-",
                            "\(entry["actor"]?["kind"]?.text ?? "-"):\(entry["actor"]?["id"]?.text ?? "-")",
                            entry["target"]?["id"]?.text ?? "-", entry["request_id"]?.text ?? "-",
                        ]
                    }
                ).rendered
            )
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every matching entry to standard output, one JSON object per line (newest first)."
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var filters: Filters
        @Option(help: "Output format; jsonl is the only one.") var format: String = "jsonl"

        func validate() throws {
            guard format == "jsonl" else { throw ValidationError("--format must be jsonl") }
        }

        func run() async throws {
            try await AuditCommand.entries(try client.client(), query: filters.query) { entry in
                print(try JSONValue.encodeCanonical(entry))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the audit chain in the database and report the first broken link (exit 1) or its head.",
            discussion: "Reads the configured database directly (like 'tronch migrate'), so it works with the server stopped."
        )
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let outcome = try await MigrateCommand.withStore(options) { store -> Result<(AuditHead, Int), AuditChain.Break> in
                let bounds = try await store.auditBounds()
                var head = bounds.checkpoint
                var count = 0
                // Up to the head recorded before the walk: entries appended meanwhile are for the next run.
                while head.sequence < bounds.head.sequence {
                    let batch = try await store.auditChain(after: head.sequence, limit: 1000)
                        .filter { $0.sequence <= bounds.head.sequence }
                    guard !batch.isEmpty else { break }
                    switch AuditChain.verify(batch, from: head) {
                    case .success(let next):
                        head = next
                        count += batch.count
                    case .failure(let problem):
                        // Retention may have cut the chain while this walked it: go on from its new checkpoint.
                        let moved = try await store.auditBounds().checkpoint
                        guard case .gap = problem, moved.sequence > head.sequence else { return .failure(problem) }
                        head = moved
                    }
                }
                // Entries removed from the end leave a chain that links up; the recorded head shows them.
                guard head == bounds.head else { return .failure(.truncated(found: head.sequence, recorded: bounds.head.sequence)) }
                return .success((head, count))
            }
            switch outcome {
            case .success(let (head, count)):
                print("audit chain intact: \(count) entries, head \(head.sequence) \(head.hash)")
            case .failure(let problem):
                FileHandle.standardError.write(Data("audit chain broken: \(problem)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
