import Foundation

/// What `tronch serve` adds to every answer for browsers: security headers and CORS (docs/security.md).
package struct EdgeSettings: Sendable {
    /// `Strict-Transport-Security: max-age=…` on answers to requests that came over HTTPS
    /// (`TRONCH_HSTS_MAX_AGE`, seconds; 0 sends none).
    package var hstsMaxAge = 31_536_000
    /// Cross-origin requests from browsers; nil (the default) answers none of them.
    package var cors: CORSPolicy?
    /// The certificate chain and key Tronch serves TLS with (`TRONCH_TLS_CERT_FILE`, `TRONCH_TLS_KEY_FILE`,
    /// PEM); nil serves plain HTTP (TLS in front).
    package var tls: (certificateFile: String, keyFile: String)?
    /// What a request that did not come over HTTPS gets (`TRONCH_REQUIRE_HTTPS`); health and readiness
    /// always answer.
    package var requireHTTPS: HTTPSRequirement = .off

    package enum HTTPSRequirement: String, Sendable {
        case off, refuse, redirect
    }

    package init() {}

    static let fileSchema: [String: Settings.ValueKind] = [
        "hsts.maxAge": .integer, "cors.allowedOrigins": .string, "cors.allowedMethods": .string, "cors.allowedHeaders": .string,
        "cors.exposedHeaders": .string, "cors.allowCredentials": .boolean, "cors.maxAge": .integer,
        "tls.certFile": .string, "tls.keyFile": .string, "requireHttps": .string,
    ]

    init(values: ValueReader) throws(ConfigurationError) {
        if let seconds = try values.int("hsts.maxAge") {
            guard (0...63_072_000).contains(seconds) else {
                throw ConfigurationError(key: "TRONCH_HSTS_MAX_AGE", "must be between 0 (off) and 63072000 (two years)")
            }
            hstsMaxAge = seconds
        }
        switch (try values.string("tls.certFile"), try values.string("tls.keyFile")) {
        case (let certificate?, let key?): tls = (certificate, key)
        case (nil, nil): break
        case (nil, _?): throw ConfigurationError(key: "TRONCH_TLS_CERT_FILE", "is needed with TRONCH_TLS_KEY_FILE")
        case (_?, nil): throw ConfigurationError(key: "TRONCH_TLS_KEY_FILE", "is needed with TRONCH_TLS_CERT_FILE")
        }
        if let mode = try values.string("requireHttps") {
            guard let parsed = HTTPSRequirement(rawValue: mode.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_REQUIRE_HTTPS", "must be off, refuse or redirect")
            }
            requireHTTPS = parsed
        }
        guard let origins = try values.string("cors.allowedOrigins").map(Self.list), !origins.isEmpty else { return }
        var policy = CORSPolicy()
        for origin in origins {
            if origin == "*" {
                policy.allowsAnyOrigin = true
                continue
            }
            guard let normalised = CORSPolicy.origin(origin) else {
                throw ConfigurationError(
                    key: "TRONCH_CORS_ALLOWED_ORIGINS",
                    "'\(origin)' is not an origin (scheme://host[:port], no path) or *"
                )
            }
            policy.origins.insert(normalised)
        }
        if let methods = try values.string("cors.allowedMethods").map(Self.list) {
            for method in methods where method.isEmpty || !method.allSatisfy({ $0.isUppercase || $0 == "-" }) {
                throw ConfigurationError(key: "TRONCH_CORS_ALLOWED_METHODS", "'\(method)' is not an HTTP method in upper case")
            }
            policy.methods = methods
        }
        if let headers = try values.string("cors.allowedHeaders").map(Self.list) {
            for header in headers where !Self.isToken(header) {
                throw ConfigurationError(key: "TRONCH_CORS_ALLOWED_HEADERS", "'\(header)' is not a header name")
            }
            policy.headers = headers
        }
        if let headers = try values.string("cors.exposedHeaders").map(Self.list) {
            for header in headers where !Self.isToken(header) {
                throw ConfigurationError(key: "TRONCH_CORS_EXPOSED_HEADERS", "'\(header)' is not a header name")
            }
            policy.exposedHeaders = headers
        }
        policy.allowsCredentials = try values.bool("cors.allowCredentials") ?? false
        if policy.allowsCredentials && policy.allowsAnyOrigin {
            // Browsers refuse `*` with credentials; echoing any origin instead would hand every site the
            // user's cookies. Name the origins.
            throw ConfigurationError(key: "TRONCH_CORS_ALLOW_CREDENTIALS", "cannot be true while TRONCH_CORS_ALLOWED_ORIGINS holds *")
        }
        if let seconds = try values.int("cors.maxAge") {
            guard (0...86_400).contains(seconds) else { throw ConfigurationError(key: "TRONCH_CORS_MAX_AGE", "must be between 0 and 86400") }
            policy.maxAge = seconds
        }
        cors = policy
    }

    private static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_".unicodeScalars.contains($0))
            }
    }
}

/// Which browser origins may call Tronch's API, and what they may send and read (the Fetch standard's CORS).
package struct CORSPolicy: Sendable, Equatable {
    /// Exact origins, lower-cased: `https://app.example.com`, `http://localhost:3000`.
    package var origins: Set<String> = []
    package var allowsAnyOrigin = false
    package var methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    package var headers = ["Authorization", "Content-Type", "X-API-Key", "X-Request-Id", "Idempotency-Key"]
    /// What a page's script may read beyond the CORS-safelisted response headers.
    package var exposedHeaders = [
        "X-Request-Id", "RateLimit", "RateLimit-Policy", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
        "Retry-After", "WWW-Authenticate",
    ]
    package var allowsCredentials = false
    /// How long a browser may keep a preflight's answer, in seconds.
    package var maxAge = 600

    package init() {}

    /// Whether a request from `origin` (the `Origin` header, as sent) may read the answer.
    package func allows(origin: String) -> Bool {
        allowsAnyOrigin || origins.contains(origin) || origins.contains(origin.lowercased())
    }

    /// `scheme://host[:port]` lower-cased, or nil for anything else (a path, a query, no scheme).
    package static func origin(_ text: String) -> String? {
        let lowered = text.lowercased()
        guard let separator = lowered.range(of: "://") else { return nil }
        let scheme = lowered[..<separator.lowerBound]
        let authority = lowered[separator.upperBound...]
        guard scheme == "http" || scheme == "https", !authority.isEmpty,
            !authority.contains(where: { "/?#@ ".contains($0) })
        else { return nil }
        return lowered
    }
}
