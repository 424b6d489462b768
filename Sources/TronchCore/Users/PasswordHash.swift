import Crypto
import CryptoExtras

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// scrypt password hashes in the PHC string format, `$scrypt$ln=15,r=8,p=3$<salt>$<hash>` (salt and hash in
/// base64 without padding), so that each stored hash carries the parameters it was made with and old hashes
/// are recognised, and upgraded at the next login, when the configured ones rise.
///
/// Pure computation: slow on purpose (tens of milliseconds, megabytes of memory), so callers run it off the
/// event loops with bounded concurrency.
package struct PasswordHash: Sendable, Hashable {
    /// scrypt's cost: N = 2^logN, block size r, parallelism p. Memory is 128 × N × r bytes.
    package struct Parameters: Sendable, Hashable, Comparable {
        package var logN: Int
        package var r: Int
        package var p: Int

        /// OWASP's password storage cheat sheet: N = 2^15, r = 8, p = 3 (32 MiB), one of its equivalent
        /// settings, chosen for a modest memory bound per hash.
        package static let owasp = Parameters(logN: 15, r: 8, p: 3)

        package init(logN: Int, r: Int, p: Int) {
            self.logN = logN
            self.r = r
            self.p = p
        }

        /// Work, for "are these parameters below those": N × r × p.
        var cost: Int { (1 << logN) * r * p }
        package var memoryBytes: Int { 128 * (1 << logN) * r }

        package static func < (lhs: Parameters, rhs: Parameters) -> Bool {
            (lhs.cost, lhs.memoryBytes) < (rhs.cost, rhs.memoryBytes)
        }

        /// Bounds that keep a stored string from asking for absurd memory or time when it is verified.
        var isSane: Bool { (1...22).contains(logN) && (1...32).contains(r) && (1...64).contains(p) }
    }

    package var parameters: Parameters
    package var salt: [UInt8]
    package var hash: [UInt8]

    package static let saltBytes = 16
    package static let hashBytes = 32

    /// Hashes `password` (already NFKC-normalised) with a new random salt.
    package static func make(_ password: String, parameters: Parameters = .owasp) throws -> PasswordHash {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<saltBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return PasswordHash(parameters: parameters, salt: salt, hash: try derive(password, salt: salt, parameters: parameters))
    }

    /// Whether `password` is the one this hash was made from (constant-time comparison).
    package func matches(_ password: String) throws -> Bool {
        let candidate = try Self.derive(password, salt: salt, parameters: parameters)
        guard candidate.count == hash.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(candidate, hash) { difference |= a ^ b }
        return difference == 0
    }

    static func derive(_ password: String, salt: [UInt8], parameters: Parameters, bytes: Int = hashBytes) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8),
            salt: salt,
            outputByteCount: bytes,
            rounds: 1 << parameters.logN,
            blockSize: parameters.r,
            parallelism: parameters.p
        )
        return key.withUnsafeBytes { Array($0) }
    }

    /// scrypt itself, for the RFC 7914 test vectors.
    static func deriveForTest(password: String, salt: [UInt8], logN: Int, r: Int, p: Int, bytes: Int) throws -> [UInt8] {
        try derive(password, salt: salt, parameters: Parameters(logN: logN, r: r, p: p), bytes: bytes)
    }

    /// `$scrypt$ln=15,r=8,p=3$<salt>$<hash>`.
    package var phcString: String {
        "$scrypt$ln=\(parameters.logN),r=\(parameters.r),p=\(parameters.p)$\(Self.base64(salt))$\(Self.base64(hash))"
    }

    /// Parses a PHC string this type wrote; nil for anything else.
    package init?(phcString text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { return nil }
        var values: [Substring: Int] = [:]
        for pair in parts[2].split(separator: ",") {
            let field = pair.split(separator: "=", maxSplits: 1)
            guard field.count == 2, let value = Int(field[1]) else { return nil }
            values[field[0]] = value
        }
        guard let logN = values["ln"], let r = values["r"], let p = values["p"], values.count == 3 else { return nil }
        let parameters = Parameters(logN: logN, r: r, p: p)
        guard parameters.isSane, let salt = Self.unbase64(parts[3]), let hash = Self.unbase64(parts[4]),
            salt.count >= 8, hash.count == Self.hashBytes
        else { return nil }
        self.init(parameters: parameters, salt: salt, hash: hash)
    }

    package init(parameters: Parameters, salt: [UInt8], hash: [UInt8]) {
        self.parameters = parameters
        self.salt = salt
        self.hash = hash
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.last == "=" { text.removeLast() }
        return text
    }

    private static func unbase64(_ text: Substring) -> [UInt8]? {
        var padded = String(text)
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map(Array.init)
    }
}
