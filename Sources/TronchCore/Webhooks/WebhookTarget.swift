/// Where a webhook may be delivered: an http(s) URL whose host is not a loopback, private, link-local,
/// shared, unspecified, multicast or broadcast address (SSRF), unless an allowed network holds it.
package enum WebhookTarget {
    /// Checks a URL as registered; returns its host (without brackets) or why it is refused.
    package static func check(_ url: String, allowed: [CIDR]) -> Result<String, Refusal> {
        guard url.utf8.count <= 2048 else { return .failure(.invalid("must be at most 2048 characters")) }
        let lower = url.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https://"
        } else if lower.hasPrefix("http://") {
            scheme = "http://"
        } else {
            return .failure(.invalid("must be an http:// or https:// URL"))
        }
        guard url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(.invalid("must not contain spaces, control or non-ASCII characters (percent-encode them)"))
        }
        let rest = url.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { return .failure(.invalid("must not carry a user name or password")) }
        var host = String(authority)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]"), IPAddress(host[host.index(after: host.startIndex)..<end]) != nil else {
                return .failure(.invalid("has a malformed IPv6 host"))
            }
            let after = host[host.index(after: end)...]
            guard after.isEmpty || after.hasPrefix(":") else { return .failure(.invalid("has a malformed IPv6 host")) }
            if !after.isEmpty { port = after.dropFirst() }
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = String(host[..<colon])
        }
        if let port {
            guard !port.isEmpty, port.allSatisfy(\.isNumber), let number = Int(port), (1...65535).contains(number) else {
                return .failure(.invalid("has an invalid port"))
            }
        }
        guard !host.isEmpty else { return .failure(.invalid("has no host")) }
        if let address = IPAddress(host), let reason = refusal(address, allowed: allowed) {
            return .failure(.refusedAddress("its host is \(reason) address; webhooks go to public addresses (see TRONCH_WEBHOOKS_ALLOWED_NETWORKS)"))
        }
        // localhost (with or without its trailing dot) is loopback, whatever it resolves to here.
        let name = host.lowercased().hasSuffix(".") ? String(host.lowercased().dropLast()) : host.lowercased()
        if name == "localhost" || name.hasSuffix(".localhost"), refusal(.v4(0x7F00_0001), allowed: allowed) != nil {
            return .failure(.refusedAddress("its host is localhost; webhooks go to public addresses (see TRONCH_WEBHOOKS_ALLOWED_NETWORKS)"))
        }
        return .success(host)
    }

    /// The host of a URL that reads as a target (without brackets), whatever its address; nil when it does not.
    package static func host(of url: String) -> String? {
        try? check(url, allowed: everywhere).get()
    }

    private static let everywhere = [try! CIDR(parsing: "0.0.0.0/0"), try! CIDR(parsing: "::/0")]

    package enum Refusal: Error, Sendable, Equatable {
        case invalid(String)
        case refusedAddress(String)

        package var message: String {
            switch self {
            case .invalid(let message), .refusedAddress(let message): message
            }
        }
    }

    /// Why `address` may not be delivered to (e.g. "a loopback"), or nil when it may.
    package static func refusal(_ address: IPAddress, allowed: [CIDR]) -> String? {
        if allowed.contains(where: { $0.contains(address) }) { return nil }
        for (range, reason) in refused where range.contains(address) { return reason }
        return nil
    }

    private static let refused: [(CIDR, String)] = [
        ("0.0.0.0/8", "an unspecified"), ("127.0.0.0/8", "a loopback"), ("10.0.0.0/8", "a private"),
        ("172.16.0.0/12", "a private"), ("192.168.0.0/16", "a private"), ("169.254.0.0/16", "a link-local"),
        ("100.64.0.0/10", "a shared (CGNAT)"), ("192.0.0.0/24", "a reserved"), ("198.18.0.0/15", "a benchmarking"),
        ("224.0.0.0/4", "a multicast"), ("240.0.0.0/4", "a reserved"), ("255.255.255.255/32", "a broadcast"),
        ("::/128", "an unspecified"), ("::1/128", "a loopback"), ("fc00::/7", "a private (unique local)"),
        ("fe80::/10", "a link-local"), ("ff00::/8", "a multicast"), ("64:ff9b::/96", "a translated (NAT64)"),
        ("2001:db8::/32", "a documentation"),
    ].map { (try! CIDR(parsing: $0.0), $0.1) }
}
