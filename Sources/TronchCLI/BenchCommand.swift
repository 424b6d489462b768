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
        subcommands: [Seed.self, Authz.self, SeedAuthz.self]
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
                                secret: secret,
                                environment: .live,
                                settings: keySettings,
                                now: now,
                                createdBy: "bench",
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

    struct Authz: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time permission checks in-process against a synthetic world (no store, no HTTP)."
        )
        @Option(help: "Entries in the world (several: 1000,100000).") var entries: String = "1000,100000"
        @Option(help: "Checks to time per world.") var checks: Int = 200_000

        func run() async throws {
            print("entries  build ms  apply µs  check p50 µs  check p99 µs  allowed")
            for count in entries.split(separator: ",").compactMap({ Int($0) }) {
                let world = AuthzBenchWorld(entries: count)
                let clock = ContinuousClock()
                let buildStart = clock.now
                var snapshot = world.snapshot
                let build = clock.now - buildStart
                // One change applied in memory, as the node that made it does.
                let extra = ACLEntry(
                    id: UUID(),
                    resource: world.leaves[0],
                    principal: .user(world.users[0]),
                    action: "audit",
                    effect: .allow,
                    kind: .acl,
                    createdAt: Date()
                )
                let applyStart = clock.now
                snapshot.apply(.entryAdded(extra))
                let apply = clock.now - applyStart
                var random = BenchRandom(state: 7)
                var durations = [Duration]()
                durations.reserveCapacity(checks)
                var allowed = 0
                let actions = ["read", "write", "deploy"]
                for _ in 0..<checks {
                    let user = PrincipalReference.user(world.users[Int(random.next() % UInt64(world.users.count))])
                    let resource = world.leaves[Int(random.next() % UInt64(world.leaves.count))]
                    let action = actions[Int(random.next() % 3)]
                    let start = clock.now
                    let decision = snapshot.check(user, action: action, resource: resource)
                    durations.append(clock.now - start)
                    if decision.allowed { allowed += 1 }
                }
                durations.sort()
                func micros(_ duration: Duration) -> String {
                    String(format: "%.2f", Double(duration.components.attoseconds) / 1e12 + Double(duration.components.seconds) * 1e6)
                }
                print(
                    String(count).padding(toLength: 9, withPad: " ", startingAt: 0)
                        + String(format: "%8.0f", Double(build.components.attoseconds) / 1e15 + Double(build.components.seconds) * 1e3)
                        + micros(apply).leftPadded(10) + micros(durations[durations.count / 2]).leftPadded(14)
                        + micros(durations[durations.count * 99 / 100]).leftPadded(14)
                        + String(format: "%8.0f%%", Double(allowed) * 100 / Double(checks))
                )
            }
        }
    }

    struct SeedAuthz: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seed-authz",
            abstract: "Fill the configured store with a synthetic permission world and write check requests (JSON lines) to a file."
        )
        @OptionGroup var options: ServerOptions
        @Option(help: "How many entries.") var entries: Int = 100_000
        @Option(name: .customLong("checks-file"), help: "Where to write check bodies, one JSON object per line.") var checksFile: String

        func run() async throws {
            let settings = try Settings(reader: try await options.reader())
            let logger = makeLogger(settings, output: .standardError)
            let handle = try openStore(settings, logger: logger)
            let world = AuthzBenchWorld(entries: entries)
            let started = ContinuousClock.now
            try await handle.withServices { store in
                try await waitForDatabase(store, backend: handle.backend, timeout: settings.databaseStartupTimeout, logger: logger)
                try await store.migrateUp(to: nil)
                for group in world.groups { try await store.insertGroup(group, audit: []) }
                for user in world.users {
                    let record = UserRecord(
                        id: user,
                        username: "bench-\(user.lowercased.prefix(8))",
                        email: try EmailAddress.parse("\(user.lowercased)@example.com").get(),
                        createdAt: Date()
                    )
                    try await store.insertUser(record, audit: [])
                }
                for membership in world.memberships { _ = try await store.addMember(membership, validate: { _ in }, audit: []) }
                for (index, entry) in world.entries.enumerated() {
                    try await store.insertEntry(entry, audit: [])
                    if (index + 1) % 20_000 == 0 { FileHandle.standardError.write(Data("\(index + 1) entries\n".utf8)) }
                }
            }
            var random = BenchRandom(state: 11)
            let actions = ["read", "write", "deploy"]
            let lines = (0..<10_000).map { _ in
                let user = world.users[Int(random.next() % UInt64(world.users.count))]
                let resource = world.leaves[Int(random.next() % UInt64(world.leaves.count))]
                return #"{"principal":"user:\#(user.lowercased)","action":"\#(actions[Int(random.next() % 3)])","resource":"\#(resource.text)"}"#
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: checksFile, atomically: true, encoding: .utf8)
            print(
                "seeded \(world.groups.count) groups, \(world.users.count) users and \(world.entries.count) entries in \(ContinuousClock.now - started)"
            )
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
