import ArgumentParser
import Foundation
import Logging
import TronchCore
import TronchServer
import TronchStorage

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Tools for benchmarks (see bench/ and docs/performance.md).",
        subcommands: [Seed.self]
    )

    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fill the configured store with many keys, fast, and write a sample of their secrets to a file."
        )
        @OptionGroup var options: ServerOptions
        @Option(help: "How many keys to create.") var count: Int = 1_000_000
        @Option(help: "How many of their secrets to write to --sample-file.") var sample: Int = 10_000
        @Option(name: .customLong("sample-file"), help: "Where to write the sampled secrets, one per line.") var sampleFile: String
        @Option(help: "Keys per transaction.") var batch: Int = 5000

        func validate() throws {
            guard count > 0, sample >= 0, sample <= count, batch > 0 else {
                throw ValidationError("need count > 0, 0 <= sample <= count, batch > 0")
            }
        }

        func run() async throws {
            let settings = try Settings(reader: try await options.reader())
            let logger = makeLogger(settings, output: .standardError)
            let handle = try openStore(settings, logger: logger)
            let (count, sampleSize, batchSize, sampleFile) = (count, sample, batch, sampleFile)
            let started = ContinuousClock.now
            let sampled = try await handle.withServices { store in
                try await waitForDatabase(store, backend: handle.backend, timeout: settings.databaseStartupTimeout, logger: logger)
                try await store.migrateUp(to: nil)
                let hasher = KeyHasher(pepper: try await loadPepper(settings, store: store, logger: logger))
                let fingerprint = hasher.digest(pepperFingerprintText).hex
                _ = try await store.claimSetting(pepperFingerprintSetting, value: fingerprint)
                // The root key first, as `tronch serve` would create it, so the seeded store is usable.
                let rootSecret = settings.bootstrapRootKey ?? settings.keyPrefix.generate(environment: .live)
                if try await store.insertIfEmpty(KeyService.rootKeyRecord(secret: rootSecret, hasher: hasher, now: Timestamp.truncated(Date()))),
                    settings.bootstrapRootKey == nil
                {
                    print("created a root key (shown once): \(rootSecret)")
                }
                let format = settings.keyPrefix
                let every = sampleSize == 0 ? Int.max : max(1, count / sampleSize)
                var sampled = [String]()
                var next = 0
                let now = Timestamp.truncated(Date())
                while next < count {
                    let size = min(batchSize, count - next)
                    var records = [KeyRecord]()
                    records.reserveCapacity(size)
                    for index in next..<(next + size) {
                        let secret = format.generate(environment: .live)
                        if index % every == 0 && sampled.count < sampleSize { sampled.append(secret) }
                        var keySettings = KeySettings()
                        keySettings.name = "bench-\(index)"
                        keySettings.ownerID = "owner-\(index % 1000)"
                        keySettings.scopes = ["bench:read"]
                        records.append(
                            KeyService.newRecord(
                                secret: secret, environment: .live, settings: keySettings, now: now, createdBy: "bench",
                                hasher: hasher
                            )
                        )
                    }
                    try await store.insert(batch: records)
                    next += size
                    if next % 100_000 < size { FileHandle.standardError.write(Data("\(next) keys\n".utf8)) }
                }
                return sampled
            }
            try (sampled.joined(separator: "\n") + "\n").write(toFile: sampleFile, atomically: true, encoding: .utf8)
            let elapsed = ContinuousClock.now - started
            print("seeded \(count) keys in \(elapsed); \(sampled.count) secrets in \(sampleFile)")
        }
    }
}
