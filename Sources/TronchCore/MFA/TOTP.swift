import Crypto

/// HOTP (RFC 4226) and TOTP (RFC 6238): one-time codes from a shared secret and a counter or the time.
///
/// Pure functions; the caller keeps the secret encrypted and remembers the last step it accepted, so that a
/// code is accepted once (RFC 6238 §5.2).
package struct TOTP: Sendable, Hashable {
    package enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case sha1 = "SHA1"
        case sha256 = "SHA256"
        case sha512 = "SHA512"
    }

    package var secret: [UInt8]
    package var algorithm: Algorithm = .sha1
    package var digits = 6
    package var period: Int64 = 30

    package init(secret: [UInt8], algorithm: Algorithm = .sha1, digits: Int = 6, period: Int64 = 30) {
        self.secret = secret
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    /// RFC 4226 §5.3: HMAC of the big-endian counter, dynamic truncation, modulo 10^digits, zero-padded.
    package func hotp(counter: UInt64) -> String {
        let message = (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64($0))) }
        let key = SymmetricKey(data: secret)
        let mac: [UInt8] =
            switch algorithm {
            case .sha1: Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
            case .sha256: Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
            case .sha512: Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
            }
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let text = String(binary % modulus)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The time step of a Unix time (seconds), RFC 6238 §4 (T0 = 0).
    package func step(at unixTime: Int64) -> Int64 { unixTime >= 0 ? unixTime / period : (unixTime - period + 1) / period }

    package func code(at unixTime: Int64) -> String { hotp(counter: UInt64(bitPattern: step(at: unixTime))) }

    /// The step `code` belongs to within ±`window` steps of `unixTime`, if any step after `lastUsed` matches:
    /// a code already accepted (or an older one) is refused. Compared in constant time per candidate.
    package func accept(_ code: String, at unixTime: Int64, window: Int64 = 1, lastUsed: Int64?) -> Int64? {
        guard code.utf8.count == digits, code.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        let now = step(at: unixTime)
        var accepted: Int64?
        for candidate in (now - window)...(now + window) where candidate >= 0 {
            if ConstantTime.equal(hotp(counter: UInt64(candidate)), code), candidate > (lastUsed ?? -1) {
                accepted = accepted ?? candidate
            }
        }
        return accepted
    }

    /// `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30` (Google
    /// Authenticator's key URI format), for a QR code.
    package func uri(issuer: String, account: String) -> String {
        func escape(_ text: String) -> String {
            var allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
            allowed.remove(UInt8(ascii: ":"))
            return text.utf8.map { allowed.contains($0) ? String(UnicodeScalar($0)) : String(format: $0) }.joined()
        }
        let label = escape(issuer) + ":" + escape(account)
        return "otpauth://totp/\(label)?secret=\(Base32.encode(secret))&issuer=\(escape(issuer))"
            + "&algorithm=\(algorithm.rawValue)&digits=\(digits)&period=\(period)"
    }
}

extension String {
    /// `%XX` for one byte.
    fileprivate init(format byte: UInt8) {
        let hex = String(byte, radix: 16, uppercase: true)
        self = "%" + (hex.count == 1 ? "0" + hex : hex)
    }
}

/// RFC 4648 base32 (A-Z, 2-7) without padding, as authenticator apps take secrets; decoding ignores case,
/// spaces and padding.
package enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    package static func encode(_ bytes: [UInt8]) -> String {
        var output = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: output, as: UTF8.self)
    }

    package static func decode(_ text: String) -> [UInt8]? {
        var output = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text.uppercased().utf8 where byte != UInt8(ascii: " ") && byte != UInt8(ascii: "=") {
            guard let value = alphabet.firstIndex(of: byte) else { return nil }
            buffer = (buffer << 5) | UInt32(value)
            bits += 5
            if bits >= 8 {
                output.append(UInt8((buffer >> UInt32(bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return output
    }
}
