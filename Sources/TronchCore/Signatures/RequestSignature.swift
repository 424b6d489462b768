import Crypto

#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// The parts of an HTTP request that an RFC 9421 signature can cover, as the API that received it saw them.
package struct SignedRequest: Sendable, Hashable {
    package var method: String
    /// The path, as sent (percent-escapes kept), starting with `/`.
    package var path: String
    /// The query without its `?` (empty when there is none).
    package var query: String
    package var authority: String?
    package var scheme: String?
    /// Header fields by lower-cased name; repeated fields already joined with `, `.
    package var headers: [String: String]

    package init(method: String, path: String, query: String = "", authority: String? = nil, scheme: String? = nil, headers: [String: String] = [:]) {
        self.method = method
        self.path = path
        self.query = query
        self.authority = authority
        self.scheme = scheme
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }) { first, _ in first }
    }
}

/// HTTP Message Signatures (RFC 9421) with `hmac-sha256`, for keys that carry a signing secret.
///
/// What Tronch accepts: the first signature of `Signature-Input` (any label), whose covered components
/// include at least ``requiredComponents``, with the parameters `created` and `nonce` (and `keyid`, `alg`,
/// `expires` when given: the key's id, `hmac-sha256`, a time not passed). Components are the derived
/// `@method`, `@authority`, `@scheme`, `@target-uri`, `@request-target`, `@path`, `@query` and header
/// fields by name; component parameters (`;sf`, `;key`, `;req`…) are not supported and refuse the signature.
package enum RequestSignature {
    /// A request must sign what it does and what it carries.
    package static let requiredComponents = ["@method", "@path", "@query", "content-digest"]
    /// How far `created` may be from now, either way.
    package static let window: TimeInterval = 300

    package enum Failure: Error, Sendable, Hashable {
        /// Missing, malformed, not covering enough, or not matching: `SIGNATURE_INVALID`.
        case invalid(String)
        /// Outside the time window, or past `expires`: `SIGNATURE_EXPIRED`.
        case expired(String)

        package var reason: String {
            switch self {
            case .invalid(let reason), .expired(let reason): reason
            }
        }
    }

    /// A parameter value of `Signature-Input`.
    package enum Parameter: Sendable, Hashable {
        case integer(Int64)
        case string(String)
        case token(String)
    }

    /// One parsed signature: its label, what it covers, its parameters in order, and the signature bytes.
    package struct Parsed: Sendable, Hashable {
        package var label: String
        package var components: [String]
        package var parameters: [(name: String, value: Parameter)]
        package var signature: [UInt8]

        package static func == (a: Parsed, b: Parsed) -> Bool {
            a.label == b.label && a.components == b.components && a.signature == b.signature
                && a.parameters.map(\.name) == b.parameters.map(\.name) && a.parameters.map(\.value) == b.parameters.map(\.value)
        }

        package func hash(into hasher: inout Hasher) {
            hasher.combine(label)
            hasher.combine(components)
        }

        package func parameter(_ name: String) -> Parameter? { parameters.first { $0.name == name }?.value }

        package var nonce: String? { if case .string(let value)? = parameter("nonce") { value } else { nil } }
        package var created: Int64? { if case .integer(let value)? = parameter("created") { value } else { nil } }
    }

    /// What a valid signature tells the caller: the nonce to refuse a replay of, and until when to remember it.
    package struct Accepted: Sendable, Hashable {
        package var nonce: String
        package var rememberUntil: Date
    }

    // MARK: Verification

    /// Checks the signature of `request` (its `signature-input` and `signature` headers) with `secret`.
    /// `bodySHA256`, when the caller passes the body's SHA-256, must match the signed `content-digest`.
    package static func verify(
        _ request: SignedRequest,
        secret: [UInt8],
        keyID: String,
        now: Date,
        bodySHA256: [UInt8]? = nil
    ) -> Result<Accepted, Failure> {
        guard let input = request.headers["signature-input"], let signature = request.headers["signature"] else {
            return .failure(.invalid("the request has no Signature-Input and Signature headers"))
        }
        let parsed: Parsed
        do { parsed = try parse(signatureInput: input, signature: signature) } catch { return .failure(error) }
        for component in requiredComponents where !parsed.components.contains(component) {
            return .failure(.invalid("the signature does not cover \(component)"))
        }
        guard let created = parsed.created else { return .failure(.invalid("the signature has no created parameter")) }
        guard let nonce = parsed.nonce, !nonce.isEmpty, nonce.utf8.count <= 128 else {
            return .failure(.invalid("the signature has no nonce parameter (1-128 characters)"))
        }
        if let alg = parsed.parameter("alg"), alg != .string("hmac-sha256") {
            return .failure(.invalid("alg must be hmac-sha256"))
        }
        if let id = parsed.parameter("keyid"), id != .string(keyID) {
            return .failure(.invalid("keyid is not this key's id"))
        }
        if let bodySHA256 {
            guard let digest = request.headers["content-digest"], contentDigest(digest, matches: bodySHA256) else {
                return .failure(.invalid("content-digest does not match the body"))
            }
        }
        let base: [UInt8]
        do { base = try signatureBase(parsed, request) } catch { return .failure(error) }
        let expected = Array(HMAC<SHA256>.authenticationCode(for: base, using: SymmetricKey(data: secret)))
        guard ConstantTime.equal(expected, parsed.signature) else { return .failure(.invalid("the signature does not match")) }
        // Time last: a forged signature is invalid whatever its times say.
        let seconds = now.timeIntervalSince1970
        guard abs(seconds - Double(created)) <= window else {
            return .failure(.expired("created is more than \(Int(window)) seconds from now"))
        }
        var until = Double(created) + window
        if case .integer(let expires)? = parsed.parameter("expires") {
            guard Double(expires) > seconds else { return .failure(.expired("the signature expired")) }
            until = min(until, Double(expires))
        }
        return .success(Accepted(nonce: nonce, rememberUntil: Date(timeIntervalSince1970: max(until, seconds) + 1)))
    }

    /// The signature base of RFC 9421 §2.5: one line per covered component, then `@signature-params`.
    package static func signatureBase(_ parsed: Parsed, _ request: SignedRequest) throws(Failure) -> [UInt8] {
        var lines = [String]()
        var seen = Set<String>()
        for component in parsed.components {
            guard seen.insert(component).inserted else { throw .invalid("\(component) is covered twice") }
            let value: String
            switch component {
            case "@method": value = request.method.uppercased()
            case "@path": value = request.path.isEmpty ? "/" : request.path
            case "@query": value = "?" + request.query
            case "@authority":
                guard let authority = request.authority else { throw .invalid("the signature covers @authority, which was not given") }
                value = authority.lowercased()
            case "@scheme":
                guard let scheme = request.scheme else { throw .invalid("the signature covers @scheme, which was not given") }
                value = scheme.lowercased()
            case "@request-target": value = (request.path.isEmpty ? "/" : request.path) + (request.query.isEmpty ? "" : "?" + request.query)
            case "@target-uri":
                guard let scheme = request.scheme, let authority = request.authority else {
                    throw .invalid("the signature covers @target-uri, which needs the scheme and authority")
                }
                value = scheme.lowercased() + "://" + authority.lowercased() + request.path + (request.query.isEmpty ? "" : "?" + request.query)
            default:
                guard !component.hasPrefix("@") else { throw .invalid("\(component) is not a component Tronch can check") }
                guard let field = request.headers[component] else {
                    throw .invalid("the signature covers the header \(component), which was not given")
                }
                value = trimmed(field)
            }
            guard !value.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { throw .invalid("\(component) holds a line break") }
            lines.append("\"\(component)\": \(value)")
        }
        lines.append("\"@signature-params\": " + serialize(parsed.components, parsed.parameters))
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// The inner list with its parameters, serialized as RFC 8941 does.
    package static func serialize(_ components: [String], _ parameters: [(name: String, value: Parameter)]) -> String {
        "(" + components.map { "\"\($0)\"" }.joined(separator: " ") + ")"
            + parameters.map { name, value in
                switch value {
                case .integer(let number): ";\(name)=\(number)"
                case .string(let text): ";\(name)=\"" + escaped(text) + "\""
                case .token(let token): ";\(name)=\(token)"
                }
            }.joined()
    }

    /// Whether a `Content-Digest` field (RFC 9530) holds `sha-256=:<base64 of digest>:`.
    package static func contentDigest(_ field: String, matches sha256: [UInt8]) -> Bool {
        let wanted = Data(sha256).base64EncodedString()
        return field.split(separator: ",").contains { member in
            let parts = trimmed(String(member)).split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "sha-256" else { return false }
            return parts[1] == ":\(wanted):"
        }
    }

    /// Without leading and trailing spaces and tabs (RFC 9110's OWS), as a field value is signed.
    static func trimmed(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    /// An RFC 8941 string's content: `\` and `"` escaped.
    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if character == "\\" || character == "\"" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    // MARK: Signing (the SDK's side, for tests and the CLI)

    /// Signs `request` over `components`, returning the `Signature-Input` and `Signature` header values.
    package static func sign(
        _ request: SignedRequest,
        components: [String] = requiredComponents,
        secret: [UInt8],
        label: String = "sig1",
        parameters: [(name: String, value: Parameter)]
    ) throws(Failure) -> (signatureInput: String, signature: String) {
        let parsed = Parsed(label: label, components: components, parameters: parameters, signature: [])
        let base = try signatureBase(parsed, request)
        let mac = Data(HMAC<SHA256>.authenticationCode(for: base, using: SymmetricKey(data: secret)))
        return ("\(label)=" + serialize(components, parameters), "\(label)=:\(mac.base64EncodedString()):")
    }
}
