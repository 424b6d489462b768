import HTTPTypes

/// OWASP's headers for an API, put on every answer (problems included) by ``RequestIDMiddleware``, which
/// already touches every answer's headers: no MIME sniffing, no referrer, never framed and nothing loaded by
/// a page that somehow renders an answer (CSP's `frame-ancestors 'none'`, which every current browser honours
/// and which supersedes `X-Frame-Options`: each header is paid for on every answer, measured at a few per
/// cent of the health route's throughput). HSTS goes on answers to requests that came over HTTPS, which only
/// ``ClientAddressMiddleware`` can tell (a trusted proxy said so), so it adds that one. Built once: appending
/// a ready list costs a request far less than setting each header (a search, then an append).
struct SecurityHeaders: Sendable {
    static let contentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"

    let always: HTTPFields
    /// `always` but the CSP and the referrer policy, for answers that bring their own: the console's pages,
    /// whose forms need the browser to send `Origin` (which `no-referrer` turns into `null`).
    let forPages: HTTPFields
    /// `Strict-Transport-Security`, or nil when HSTS is off.
    let overHTTPS: HTTPField?

    /// `servesTLS`: Tronch terminates TLS itself, so every answer goes over HTTPS and carries HSTS.
    init(hstsMaxAge: Int, servesTLS: Bool = false) {
        var forPages: HTTPFields = [.xContentTypeOptions: "nosniff"]
        overHTTPS = hstsMaxAge > 0 ? HTTPField(name: .strictTransportSecurity, value: "max-age=\(hstsMaxAge)") : nil
        if servesTLS, let overHTTPS { forPages.append(overHTTPS) }
        var always = forPages
        always[.referrerPolicy] = "no-referrer"
        always[.contentSecurityPolicy] = Self.contentSecurityPolicy
        self.always = always
        self.forPages = forPages
    }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}
