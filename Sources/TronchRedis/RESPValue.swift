package import NIOCore

/// A RESP2 value: what Redis answers.
package enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// nil for the null bulk string.
    case bulkString(ByteBuffer?)
    /// nil for the null array.
    case array([RESPValue]?)

    /// The value as text, for simple and bulk strings and integers.
    package var string: String? {
        switch self {
        case .simpleString(let value): value
        case .bulkString(let buffer?): String(buffer: buffer)
        case .integer(let value): String(value)
        default: nil
        }
    }

    package var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .bulkString(let buffer?): Int64(String(buffer: buffer))
        case .simpleString(let value): Int64(value)
        default: nil
        }
    }

    package var array: [RESPValue]? {
        if case .array(let values?) = self { return values }
        return nil
    }

    package var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }
}

/// Why a Redis call failed.
package enum RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Redis answered with an error reply (`-ERR …`, `-NOSCRIPT …`).
    case server(String)
    /// No connection to Redis right now.
    case notConnected
    /// The connection closed before the answer came.
    case connectionClosed
    /// No answer within the call's time box.
    case timeout
    /// Bytes that are not RESP.
    case protocolError(String)
    /// A `redis://` URL that cannot be used.
    case invalidURL(String)

    package var description: String {
        switch self {
        case .server(let message): "Redis error: \(message)"
        case .notConnected: "not connected to Redis"
        case .connectionClosed: "the Redis connection closed"
        case .timeout: "Redis did not answer in time"
        case .protocolError(let message): "Redis protocol error: \(message)"
        case .invalidURL(let message): message
        }
    }
}
