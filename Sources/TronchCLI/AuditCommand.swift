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
        subcommands: [List.self, Export.self, Verify.self, Checkpoints.self]
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
        _ api: APIClient,
        query: [(String, String)],
        limit: Int? = nil,
        each: (JSONValue) throws -> Void
    ) async throws {
        var next: String?
        var seen = 0
        repeat {
            let page = try await api.send(
                .GET,
                "/api/v1/audit-logs",
                query: query + [("limit", "100")] + (next.map { [("cursor", $0)] } ?? [])
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
            abstract: "Check the audit log: every link of its hash chain and every keyed checkpoint (exit 1 at the first problem).",
            discussion: """
                Reads the configured database directly (like 'tronch migrate'), so it works with the server stopped. \
                Checkpoints are HMACs under a key derived from the secrets key, which the database does not hold: \
                run this where that key is (TRONCH_SECRETS_KEY, or the data directory's secrets.key). With \
                --checkpoints, the checkpoints of an earlier 'tronch audit checkpoints' must all still be there.
                """
        )
        @OptionGroup var options: ServerOptions
        @Option(help: "A file written earlier by 'tronch audit checkpoints' (one JSON object per line).")
        var checkpoints: String?

        func run() async throws {
            let exported = try checkpoints.map(AuditCommand.readCheckpoints) ?? []
            let settings = try Settings(reader: try await options.reader(), requirePepper: false)
            let outcome = try await MigrateCommand.withStore(options) { store in
                try await AuditVerification.run(store: store, exported: exported) {
                    try await AuditVerification.signer(settings: settings, store: store, logger: makeLogger(settings, output: .standardError))
                }
            }
            switch outcome {
            case .success(let report):
                print(
                    "audit chain intact: \(report.entries) entries, head \(report.head.sequence) \(report.head.hash); "
                        + "\(report.checkpoints) keyed checkpoint\(report.checkpoints == 1 ? "" : "s") valid "
                        + "(\(report.checkpointsMatched) over entries still kept)"
                )
            case .failure(let problem):
                FileHandle.standardError.write(Data("audit chain broken: \(problem)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Checkpoints: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every keyed checkpoint of the audit chain to standard output, one JSON object per line.",
            discussion: """
                Keep the output somewhere the database's writers cannot reach; 'tronch audit verify --checkpoints FILE' \
                then shows a database whose checkpoints were removed or rewritten since.
                """
        )
        @OptionGroup var options: ServerOptions

        func run() async throws {
            for checkpoint in try await MigrateCommand.withStore(options, { try await $0.auditCheckpoints() }) {
                print(try JSONValue.encodeCanonical(AuditCommand.json(checkpoint)))
            }
        }
    }

    static func json(_ checkpoint: AuditCheckpoint) -> JSONValue {
        .object([
            "sequence": .int(checkpoint.sequence), "hash": .string(checkpoint.hash),
            "previous_sequence": .int(checkpoint.previousSequence), "key_id": .string(checkpoint.keyID),
            "time": .string(Timestamp.format(checkpoint.time)), "mac": .string(checkpoint.mac),
        ])
    }

    static func readCheckpoints(_ path: String) throws -> [AuditCheckpoint] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        return try String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated().map { index, line in
            guard let value = try? JSONParser.parse(Array(line.utf8)), case .int(let sequence)? = value["sequence"],
                case .string(let hash)? = value["hash"], case .int(let previous)? = value["previous_sequence"],
                case .string(let keyID)? = value["key_id"], case .string(let timeText)? = value["time"],
                let time = Timestamp.parse(timeText), case .string(let mac)? = value["mac"]
            else { throw ValidationError("\(path):\(index + 1) is not a checkpoint written by 'tronch audit checkpoints'") }
            return AuditCheckpoint(sequence: sequence, hash: hash, previousSequence: previous, keyID: keyID, time: time, mac: mac)
        }
    }
}
