package import NIOCore

/// Decodes RESP2 replies from a byte stream; a partial reply waits for more bytes.
struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = RESPValue

    /// Largest bulk string accepted (Redis allows 512 MB; Tronch never stores anything near that).
    static let maxBulkLength = 64 << 20
    static let maxDepth = 32

    mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        var copy = buffer
        guard let value = try Self.parse(&copy, depth: 0) else { return nil }
        buffer = copy
        return value
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try decode(buffer: &buffer)
    }

    /// Parses one value, or returns nil (leaving the buffer untouched by the caller) when incomplete.
    static func parse(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth < maxDepth else { throw RedisError.protocolError("nesting too deep") }
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        guard let line = readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(line)
        case UInt8(ascii: "-"):
            return .error(line)
        case UInt8(ascii: ":"):
            guard let value = Int64(line) else { throw RedisError.protocolError("bad integer '\(line)'") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(line), length >= -1, length <= maxBulkLength else {
                throw RedisError.protocolError("bad bulk length '\(line)'")
            }
            if length == -1 { return .bulkString(nil) }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readSlice(length: length) else { return nil }
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw RedisError.protocolError("bulk string not terminated") }
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(line), count >= -1, count <= 1_000_000 else {
                throw RedisError.protocolError("bad array length '\(line)'")
            }
            if count == -1 { return .array(nil) }
            var values = [RESPValue]()
            values.reserveCapacity(count)
            for _ in 0..<count {
                guard let value = try parse(&buffer, depth: depth + 1) else { return nil }
                values.append(value)
            }
            return .array(values)
        default:
            throw RedisError.protocolError("unknown type byte \(type)")
        }
    }

    /// A line up to CRLF, without it; nil when the CRLF has not arrived yet.
    private static func readLine(_ buffer: inout ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: 0x0D), view.index(after: cr) < view.endIndex, view[view.index(after: cr)] == 0x0A
        else { return nil }
        let length = cr - view.startIndex
        let line = buffer.readString(length: length)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}

/// Encodes a command as a RESP array of bulk strings.
enum RESPEncoder {
    static func encode(_ arguments: [RESPArgument], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            switch argument {
            case .string(let text):
                buffer.writeString("$\(text.utf8.count)\r\n")
                buffer.writeString(text)
            case .bytes(let bytes):
                buffer.writeString("$\(bytes.readableBytes)\r\n")
                buffer.writeImmutableBuffer(bytes)
            }
            buffer.writeString("\r\n")
        }
    }
}

/// One argument of a command.
package enum RESPArgument: Sendable, Hashable, ExpressibleByStringLiteral {
    case string(String)
    case bytes(ByteBuffer)

    package init(stringLiteral value: String) { self = .string(value) }

    /// The command, when this is a command's first argument (upper-cased; bytes are not read).
    var commandName: String {
        if case .string(let name) = self { name.uppercased() } else { "?" }
    }
}
