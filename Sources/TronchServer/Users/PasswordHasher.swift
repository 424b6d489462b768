import HTTPTypes
import Logging
import Metrics
import NIOPosix
import ServiceLifecycle
import Synchronization
package import TronchCore

#if canImport(Glibc)
import Glibc
#endif

/// Password hashing off the event loops and off Swift's cooperative pool, with bounded concurrency.
///
/// scrypt takes tens of milliseconds and megabytes on purpose. It runs on a thread pool of its own
/// (`TRONCH_PASSWORD_HASH_THREADS`, by default half the cores), so a flood of logins can take at most those
/// threads and their memory (32 MiB each at the default parameters) and never starves key verification;
/// beyond `TRONCH_PASSWORD_HASH_QUEUE` waiting hashes, a login is answered 503 at once instead of queueing
/// without bound.
package final class PasswordHasher: Service, Sendable {
    let parameters: PasswordHash.Parameters
    let pool: NIOThreadPool
    let capacity: Int
    private let pending = Atomic<Int>(0)
    let refused = Counter(label: "tronch_password_hash_refused_total")

    /// A hash of a password nobody has, made at the first need (on the pool): unknown users are checked
    /// against it so that their logins cost what a real one does.
    private let dummy = Mutex<PasswordHash?>(nil)

    package init(parameters: PasswordHash.Parameters, threads: Int, queue: Int) {
        self.parameters = parameters
        self.pool = NIOThreadPool(numberOfThreads: threads)
        self.capacity = threads + queue
        pool.start()
    }

    package func run() async throws {
        try? await gracefulShutdown()
        try await pool.shutdownGracefully()
    }

    /// The PHC string of a new hash of `password` (NFKC-normalised first).
    package func hash(_ password: String) async throws -> String {
        let parameters = self.parameters
        let normalized = PasswordPolicy.normalize(password)
        return try await bounded { try PasswordHash.make(normalized, parameters: parameters).phcString }
    }

    /// Whether `password` matches `phc`; a missing or unreadable hash is checked against the dummy, costing
    /// the same time, and never matches.
    package func verify(_ password: String, against phc: String?) async throws -> Bool {
        let stored = phc.flatMap(PasswordHash.init(phcString:))
        let normalized = PasswordPolicy.normalize(password)
        let parameters = self.parameters
        let matches = try await bounded { [self] in
            let target =
                try stored
                ?? self.dummy.withLock { dummy in
                    if let dummy { return dummy }
                    let made = try PasswordHash.make("tronch dummy password \(UInt64.random(in: 0 ... .max))", parameters: parameters)
                    dummy = made
                    return made
                }
            return try target.matches(normalized)
        }
        return matches && stored != nil
    }

    /// Whether a stored hash was made with weaker parameters than the configured ones (upgrade it).
    package func needsRehash(_ phc: String?) -> Bool {
        guard let stored = phc.flatMap(PasswordHash.init(phcString:)) else { return false }
        return stored.parameters < parameters
    }

    private func bounded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard pending.wrappingAdd(1, ordering: .relaxed).newValue <= capacity else {
            pending.wrappingSubtract(1, ordering: .relaxed)
            refused.increment()
            throw APIError(
                .serviceUnavailable,
                "too many password checks at once (logins, new passwords); retry in a moment",
                headers: [.retryAfter: "1"]
            )
        }
        defer { pending.wrappingSubtract(1, ordering: .relaxed) }
        return try await pool.runIfActive {
            Self.yieldToRequests()
            return try work()
        }
    }
}

extension PasswordHasher {
    /// The hashing threads run at a lower priority (nice 10) than the event loops: when the cores are short,
    /// the scheduler gives them to requests first, and logins queue a little longer instead of verification
    /// slowing down. Idle cores still go to hashing.
    static func yieldToRequests() {
        #if os(Linux)
        // The thread's own id (Glibc's module has no gettid): /proc/thread-self links to "<pid>/task/<tid>".
        var link = [UInt8](repeating: 0, count: 64)
        let length = link.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { readlink("/proc/thread-self", $0.baseAddress!, $0.count - 1) }
        }
        guard length > 0, let tid = String(decoding: link.prefix(length), as: UTF8.self).split(separator: "/").last.flatMap({ id_t($0) })
        else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, 10)
        #endif
    }
}
