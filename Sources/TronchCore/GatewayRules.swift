/// Which scopes a gateway's forward-auth check requires for a request, by its method and path.
///
/// Written as one setting (`TRONCH_FORWARD_AUTH_RULES`) so a deployment can keep its route table next to
/// its other configuration: rules separated by `;`, each `METHODS PATH [SCOPES]`, for example
/// `GET /orders/* orders:read; POST,PUT,DELETE /orders/* orders:write; * /admin/* admin`.
/// `METHODS` is `*` or a comma-separated list; `PATH` is exact, or a prefix when it ends in `*`; `SCOPES` are
/// comma- or space-separated, and none means "any valid key". The first matching rule wins, as in a
/// gateway's own route table; a request no rule matches needs only a valid key.
package struct GatewayRules: Sendable, Equatable {
    package struct Rule: Sendable, Equatable {
        /// Upper-case methods; empty means every method.
        package var methods: [String]
        package var path: String
        package var isPrefix: Bool
        package var scopes: [String]

        /// `method` in upper case.
        package func matches(method: String, path candidate: Substring) -> Bool {
            if !methods.isEmpty, !methods.contains(method) { return false }
            return isPrefix ? candidate.utf8.starts(with: path.utf8) : candidate.utf8.elementsEqual(path.utf8)
        }
    }

    package var rules: [Rule]

    package init(rules: [Rule] = []) { self.rules = rules }

    /// Parses the setting's text; the error names the rule and what is wrong with it.
    package init(parsing text: String) throws(DomainError) {
        var rules = [Rule]()
        for (index, entry) in text.split(separator: ";").enumerated() {
            let words = entry.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            guard !words.isEmpty else { continue }
            func fail(_ message: String) -> DomainError {
                .invalid("rule \(index + 1) ('\(entry.trimmingSpaces)')", message)
            }
            guard words.count >= 2 else { throw fail("needs a method list and a path, e.g. 'GET /orders/* orders:read'") }
            var methods = [String]()
            if words[0] != "*" {
                for method in words[0].split(separator: ",") {
                    guard !method.isEmpty,
                        method.utf8.allSatisfy({
                            $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") || $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")
                        })
                    else {
                        throw fail("'\(method)' is not an HTTP method")
                    }
                    methods.append(method.uppercased())
                }
            }
            var path = String(words[1])
            guard path.hasPrefix("/") else { throw fail("the path must start with '/'") }
            let isPrefix = path.hasSuffix("*")
            if isPrefix { path.removeLast() }
            guard !path.contains("*") else { throw fail("'*' may only end a path") }
            var scopes = [String]()
            for word in words.dropFirst(2) {
                for scope in word.split(separator: ",") {
                    if let problem = Scope.problem(with: String(scope)) { throw fail(problem) }
                    scopes.append(String(scope))
                }
            }
            rules.append(Rule(methods: methods, path: path, isPrefix: isPrefix, scopes: scopes))
        }
        self.rules = rules
    }

    /// The scopes the first matching rule requires; empty when none matches. The path is normalised first
    /// (see ``normalize(_:)``), so `/%6Frders/../orders//1` meets the rules for `/orders/1`.
    package func scopes(method: String, path: Substring) -> [String] {
        guard !rules.isEmpty else { return [] }
        let method = method.uppercased()
        let path = Self.normalize(path)
        return rules.first { $0.matches(method: method, path: path[...]) }?.scopes ?? []
    }

    /// The path as an upstream server would resolve it: percent-escapes decoded (an invalid one is kept as
    /// it is), repeated slashes collapsed, `.` and `..` segments resolved, never above the root. Rules must
    /// not be dodged by spelling a path differently.
    package static func normalize(_ path: Substring) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(path.utf8.count)
        var input = path.utf8[...]
        while let byte = input.popFirst() {
            if byte == UInt8(ascii: "%"), input.count >= 2,
                let high = hexValue(input[input.startIndex]), let low = hexValue(input[input.index(after: input.startIndex)])
            {
                bytes.append(high << 4 | low)
                input = input.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        var segments = [ArraySlice<UInt8>]()
        for segment in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if segment.elementsEqual([UInt8(ascii: ".")]) { continue }
            if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        var result = [UInt8]()
        for segment in segments {
            result.append(UInt8(ascii: "/"))
            result.append(contentsOf: segment)
        }
        // A trailing slash is kept: `/orders/` and `/orders` may be different routes upstream.
        if bytes.count > 1, bytes.last == UInt8(ascii: "/"), !segments.isEmpty { result.append(UInt8(ascii: "/")) }
        if result.isEmpty { result.append(UInt8(ascii: "/")) }
        return String(decoding: result, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
