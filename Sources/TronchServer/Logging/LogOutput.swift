import Foundation
package import Logging
import Synchronization
import TronchCore

/// Where log lines go: standard error in production, a buffer in tests.
package struct LogOutput: Sendable {
    package let write: @Sendable (String) -> Void

    package init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }

    package static let standardError = LogOutput { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Writes log lines as readable text (`2026-11-25T17:46:00.123Z info tronch: message key=value …`) or as one
/// JSON object per line (`ts`, `level`, `label`, `msg`, then metadata) for log pipelines.
package struct LineLogHandler: LogHandler {
    package enum Format: Sendable { case text, json }

    package var metadata: Logger.Metadata = [:]
    /// Metadata of the moment (the trace and span ids when tracing is on), read for each line.
    package var metadataProvider: Logger.MetadataProvider?
    package var logLevel: Logger.Level
    private let label: String
    private let format: Format
    private let output: LogOutput

    package init(label: String, level: Logger.Level, format: Format, output: LogOutput, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.logLevel = level
        self.format = format
        self.output = output
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        for (key, value) in event.metadata ?? [:] { merged[key] = value }
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            output.write("\(TronchCoreTimestamp.now()) \(event.level) \(label): \(event.message)\(fields.isEmpty ? "" : " " + fields)")
        case .json:
            var fields: [String: String] = [:]
            for (key, value) in merged { fields[key] = "\(value)" }
            fields["ts"] = TronchCoreTimestamp.now()
            fields["level"] = event.level.rawValue
            fields["label"] = label
            fields["msg"] = "\(event.message)"
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(fields) else { return }
            output.write(String(decoding: data, as: UTF8.self))
        }
    }
}

/// Log timestamps in the same RFC 3339 form as the API.
enum TronchCoreTimestamp {
    static func now() -> String { Timestamp.format(Date()) }
}
