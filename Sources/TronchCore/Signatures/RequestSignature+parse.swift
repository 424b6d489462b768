#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension RequestSignature {
    /// Reads the first signature of `Signature-Input` and its value from `Signature` (RFC 8941 dictionaries:
    /// the subset RFC 9421 uses; component parameters are refused).
    package static func parse(signatureInput: String, signature: String) throws(Failure) -> Parsed {
        var input = Scanner(Array(signatureInput.utf8))
        input.skipSpaces()
        let label = try input.key()
        try input.expect(UInt8(ascii: "="))
        try input.expect(UInt8(ascii: "("))
        var components = [String]()
        while true {
            input.skipSpaces()
            if input.take(UInt8(ascii: ")")) { break }
            components.append(try input.string())
            if input.peek == UInt8(ascii: ";") { throw .invalid("component parameters are not supported") }
            guard input.peek == UInt8(ascii: " ") || input.peek == UInt8(ascii: ")") else {
                throw .invalid("Signature-Input is not a list of quoted components")
            }
        }
        guard !components.isEmpty, components.count <= 32 else { throw .invalid("Signature-Input covers no components, or too many") }
        var parameters = [(name: String, value: Parameter)]()
        while input.take(UInt8(ascii: ";")) {
            input.skipSpaces()
            let name = try input.key()
            try input.expect(UInt8(ascii: "="))
            guard !parameters.contains(where: { $0.name == name }) else { throw .invalid("the parameter \(name) is given twice") }
            parameters.append((name, try input.bareItem()))
        }
        input.skipSpaces()
        guard input.isAtEnd || input.peek == UInt8(ascii: ",") else { throw .invalid("Signature-Input does not parse") }

        // The Signature member with the same label.
        var members = Scanner(Array(signature.utf8))
        while !members.isAtEnd {
            members.skipSpaces()
            let name = try members.key()
            try members.expect(UInt8(ascii: "="))
            let bytes = try members.byteSequence()
            if name == label {
                guard bytes.count == 32 else { throw .invalid("an hmac-sha256 signature is 32 bytes") }
                return Parsed(label: label, components: components, parameters: parameters, signature: bytes)
            }
            members.skipSpaces()
            guard members.take(UInt8(ascii: ",")) else { break }
        }
        throw .invalid("Signature has no value labelled \(label)")
    }

    /// A cursor over header bytes, reading RFC 8941 items.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var isAtEnd: Bool { index >= bytes.count }
        var peek: UInt8? { isAtEnd ? nil : bytes[index] }

        mutating func skipSpaces() { while peek == UInt8(ascii: " ") || peek == UInt8(ascii: "\t") { index += 1 } }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        mutating func expect(_ byte: UInt8) throws(Failure) {
            guard take(byte) else { throw .invalid("expected '\(Character(UnicodeScalar(byte)))' in a signature header") }
        }

        /// `key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`
        mutating func key() throws(Failure) -> String {
            let start = index
            while let byte = peek,
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || byte == UInt8(ascii: "*")
                    || (index > start && ((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "_-.".utf8.contains(byte)))
            {
                index += 1
            }
            guard index > start, index - start <= 64 else { throw .invalid("a signature header has a malformed name") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// `"…"` with `\"` and `\\` escapes, printable ASCII only.
        mutating func string() throws(Failure) -> String {
            try expect(UInt8(ascii: "\""))
            var out = [UInt8]()
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let next = peek, next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") else {
                        throw .invalid("a bad escape in a signature header string")
                    }
                    out.append(next)
                    index += 1
                case 0x20...0x7E: out.append(byte)
                default: throw .invalid("a signature header string holds a control or non-ASCII character")
                }
            }
            throw .invalid("an unterminated string in a signature header")
        }

        /// An integer, a string or a token.
        mutating func bareItem() throws(Failure) -> Parameter {
            guard let first = peek else { throw .invalid("a signature parameter has no value") }
            if first == UInt8(ascii: "\"") { return .string(try string()) }
            if first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) {
                let start = index
                index += 1
                while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
                guard index - start <= 15, let value = Int64(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                    throw .invalid("a signature parameter is not an integer of at most 15 digits")
                }
                return .integer(value)
            }
            guard
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first)
                    || first == UInt8(ascii: "*")
            else { throw .invalid("a signature parameter's value does not parse") }
            let start = index
            while let byte = peek, byte > 0x20, byte < 0x7F, !"\"(),;=[]{}\\".utf8.contains(byte) { index += 1 }
            return .token(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        /// `:base64:`
        mutating func byteSequence() throws(Failure) -> [UInt8] {
            try expect(UInt8(ascii: ":"))
            let start = index
            while let byte = peek, byte != UInt8(ascii: ":") { index += 1 }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            try expect(UInt8(ascii: ":"))
            guard let data = Data(base64Encoded: text) else { throw .invalid("a signature is not base64") }
            return Array(data)
        }
    }
}
