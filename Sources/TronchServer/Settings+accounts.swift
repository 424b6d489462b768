import Foundation
package import TronchCore

/// What `tronch serve` reads about people, passwords, sessions and tokens (docs/users.md, docs/tokens.md).
package struct AccountSettings: Sendable {
    package enum AnomalyMode: String, Sendable { case revoke, off }

    /// NIST SP 800-63B-4: at least 12 code points by default; 8 is the floor NIST allows with a blocklist.
    package var passwordMinLength = 12
    package var lockout = LockoutPolicy()
    /// Password hashes computed at once; the rest wait in a queue of `passwordHashQueue`, then 503.
    package var passwordHashThreads = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
    package var passwordHashQueue = 64
    package var passwordHash = PasswordHash.Parameters.owasp
    package var accessTokenTTL: Duration = .seconds(600)
    package var refreshTokenTTL: Duration = .seconds(30 * 86_400)
    package var sessionIdleTimeout: Duration = .seconds(7 * 86_400)
    package var sessionAnomaly = AnomalyMode.revoke
    package var algorithm = SigningKeyRecord.Algorithm.es256
    /// `iss` of every access token; by default the server's own base URL.
    package var issuer = "http://127.0.0.1:8080"
    /// Whether `issuer` came from configuration (several nodes must share one).
    package var issuerConfigured = false
    package var audience = "tronch"
    /// The secrets key (32 bytes) when configured; nil: a file in the data directory (embedded store) or one
    /// derived from the pepper (external database).
    package var secretsKey: [UInt8]?
    /// Older secrets keys that still open what they sealed, while `tronch secrets rotate-key` moves everything
    /// to `secretsKey` (`TRONCH_SECRETS_PREVIOUS_KEYS`, comma-separated).
    package var previousSecretsKeys: [[UInt8]] = []
    /// Roles whose users must enrol a second factor before doing anything else.
    package var mfaRequiredRoles: Set<Role> = []
    /// Whether sensitive actions of a person need a second factor in their access token (``StepUp``).
    package var mfaStepUp = true

    package init() {}

    static let fileSchema: [String: Settings.ValueKind] = [
        "password.minLength": .integer, "password.hashThreads": .integer, "password.hashQueue": .integer,
        "password.scryptLogN": .integer,
        "lockout.threshold": .integer, "lockout.duration": .seconds, "lockout.maxDuration": .seconds,
        "accessToken.ttl": .seconds, "refreshToken.ttl": .seconds, "session.idleTimeout": .seconds,
        "session.anomaly": .string, "jwt.algorithm": .string, "issuer": .string, "audience": .string,
        "secrets.key": .string, "secrets.previousKeys": .string, "mfa.requiredRoles": .string, "mfa.stepUp": .boolean,
    ]

    init(values: ValueReader, host: String, port: Int) throws(ConfigurationError) {
        passwordMinLength = try values.int("password.minLength") ?? passwordMinLength
        guard (8...PasswordPolicy.maxLength).contains(passwordMinLength) else {
            throw ConfigurationError(key: "TRONCH_PASSWORD_MIN_LENGTH", "must be between 8 and \(PasswordPolicy.maxLength)")
        }
        passwordHashThreads = try values.int("password.hashThreads") ?? passwordHashThreads
        guard (1...256).contains(passwordHashThreads) else {
            throw ConfigurationError(key: "TRONCH_PASSWORD_HASH_THREADS", "must be between 1 and 256")
        }
        passwordHashQueue = try values.int("password.hashQueue") ?? passwordHashQueue
        guard (0...100_000).contains(passwordHashQueue) else {
            throw ConfigurationError(key: "TRONCH_PASSWORD_HASH_QUEUE", "must be between 0 and 100000")
        }
        passwordHash.logN = try values.int("password.scryptLogN") ?? passwordHash.logN
        guard (10...20).contains(passwordHash.logN) else {
            throw ConfigurationError(key: "TRONCH_PASSWORD_SCRYPT_LOG_N", "must be between 10 and 20 (N = 2^value; default 15)")
        }
        lockout.threshold = try values.int("lockout.threshold") ?? lockout.threshold
        guard (1...1000).contains(lockout.threshold) else {
            throw ConfigurationError(key: "TRONCH_LOCKOUT_THRESHOLD", "must be between 1 and 1000")
        }
        lockout.duration = try values.seconds("lockout.duration", range: 1...86_400) ?? lockout.duration
        lockout.maxDuration = try values.seconds("lockout.maxDuration", range: 1...(30 * 86_400)) ?? lockout.maxDuration
        guard lockout.maxDuration >= lockout.duration else {
            throw ConfigurationError(key: "TRONCH_LOCKOUT_MAX_DURATION", "must be at least TRONCH_LOCKOUT_DURATION")
        }
        accessTokenTTL = try values.seconds("accessToken.ttl", range: 1...86_400) ?? accessTokenTTL
        refreshTokenTTL = try values.seconds("refreshToken.ttl", range: 1...(365 * 86_400)) ?? refreshTokenTTL
        sessionIdleTimeout = try values.seconds("session.idleTimeout", range: 1...(365 * 86_400)) ?? sessionIdleTimeout
        if let text = try values.string("session.anomaly") {
            guard let mode = AnomalyMode(rawValue: text.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_SESSION_ANOMALY", "must be revoke or off")
            }
            sessionAnomaly = mode
        }
        if let text = try values.string("jwt.algorithm") {
            guard let value = SigningKeyRecord.Algorithm(rawValue: text.uppercased()) else {
                throw ConfigurationError(key: "TRONCH_JWT_ALGORITHM", "must be ES256 or RS256")
            }
            algorithm = value
        }
        let shownHost = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        issuerConfigured = try values.string("issuer") != nil
        issuer = try values.string("issuer") ?? "http://\(shownHost.contains(":") ? "[\(shownHost)]" : shownHost):\(port)"
        guard URL(string: issuer)?.scheme != nil, !issuer.isEmpty else {
            throw ConfigurationError(key: "TRONCH_ISSUER", "must be a URL, such as https://auth.example.com")
        }
        audience = try values.string("audience") ?? audience
        guard !audience.isEmpty else { throw ConfigurationError(key: "TRONCH_AUDIENCE", "must not be empty") }
        if let text = try values.string("secrets.key", secret: true) {
            guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else {
                throw ConfigurationError(key: "TRONCH_SECRETS_KEY", "must be 32 bytes in base64 (make one with: openssl rand -base64 32)")
            }
            secretsKey = Array(bytes)
        }
        if let text = try values.string("secrets.previousKeys", secret: true) {
            for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !item.isEmpty {
                guard let bytes = Data(base64Encoded: item), bytes.count == 32 else {
                    throw ConfigurationError(key: "TRONCH_SECRETS_PREVIOUS_KEYS", "must be 32-byte keys in base64, separated by commas")
                }
                previousSecretsKeys.append(Array(bytes))
            }
            guard secretsKey != nil || previousSecretsKeys.isEmpty else {
                throw ConfigurationError(key: "TRONCH_SECRETS_PREVIOUS_KEYS", "needs TRONCH_SECRETS_KEY: previous keys only open what they sealed")
            }
        }
        if let text = try values.string("mfa.requiredRoles") {
            var roles = Set<Role>()
            for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
                guard let role = Role(rawValue: item.lowercased()) else {
                    throw ConfigurationError(key: "TRONCH_MFA_REQUIRED_ROLES", "'\(item)' is not a role (admin, member, viewer)")
                }
                roles.insert(role)
            }
            mfaRequiredRoles = roles
        }
        mfaStepUp = try values.bool("mfa.stepUp") ?? mfaStepUp
    }
}
