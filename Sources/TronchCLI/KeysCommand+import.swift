import ArgumentParser
import Foundation
import NIOHTTP1
import TronchCore

extension KeysCommand {
    /// `tronch keys import FILE`: brings existing keys over in batches, each all or nothing.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import existing keys from a JSON or JSON Lines file.",
            discussion: """
                FILE holds {"keys": [...]}, a JSON array, or one JSON object per line (JSON Lines). Each key is a \
                create request plus its secret: "key" (plain text, hashed on arrival and never stored) or "hash" \
                ({"algorithm": "sha256", "value": "<64 hex>"}, replaced by Tronch's hash on first use). \
                Keys are sent in batches of --batch-size; a batch is stored whole or not at all, and the import \
                stops at the first refused batch, saying which keys were already imported. See docs/migrating.md.
                """
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "The file to import ('-' reads standard input).") var file: String
        @Option(name: .customLong("batch-size"), help: "Keys per request (1-1000).") var batchSize = 1000

        func validate() throws {
            guard (1...1000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 1000") }
        }

        func run() async throws {
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            let keys = try Self.entries(in: data)
            guard !keys.isEmpty else { throw CLIError("\(file) holds no keys") }
            let api = try client.client()
            var imported = [JSONValue]()
            for start in stride(from: 0, to: keys.count, by: batchSize) {
                let batch = Array(keys[start..<min(start + batchSize, keys.count)])
                do {
                    let answer = try await api.send(.POST, "/api/v1/keys/import", body: .object(["keys": .array(batch)]))
                    if case .array(let data)? = answer["data"] { imported += data }
                } catch {
                    throw CLIError(
                        "keys \(start)-\(start + batch.count - 1) were refused and none of them stored (\(error)); "
                            + "\(imported.count) keys before them were imported: resume with the rest of the file"
                    )
                }
            }
            if client.json {
                print(JSONValue.object(["imported": .int(Int64(imported.count)), "data": .array(imported)]).prettyJSON)
                return
            }
            print("imported \(imported.count) keys")
            print(
                Table(
                    headers: ["ID", "NAME", "OWNER", "ENV", "KEY"],
                    rows: imported.map { key in
                        [
                            key["id"]?.text ?? "-", key["name"]?.text ?? "-", key["owner_id"]?.text ?? "-",
                            key["environment"]?.text ?? "-", "\(key["start"]?.text ?? "")…\(key["end"]?.text ?? "")",
                        ]
                    }
                ).rendered
            )
        }

        /// The entries of `{"keys": [...]}`, a JSON array, or JSON Lines.
        static func entries(in data: Data) throws -> [JSONValue] {
            let bytes = Array(data)
            if let document = try? JSONParser.parse(bytes) {
                switch document {
                case .array(let items): return items
                case .object(let object):
                    if case .array(let items)? = object["keys"] { return items }
                    if object["key"] != nil || object["hash"] != nil { return [document] }
                    throw CLIError("a JSON file must hold {\"keys\": [...]} or an array of keys")
                default: throw CLIError("a JSON file must hold {\"keys\": [...]} or an array of keys")
                }
            }
            var entries = [JSONValue]()
            for (number, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
                guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else { continue }
                do {
                    entries.append(try JSONParser.parse(Array(line)))
                } catch {
                    // Never echo the line: it holds a secret.
                    throw CLIError("line \(number + 1) is not a JSON object")
                }
            }
            return entries
        }
    }
}
