import NIOCore

/// Redis Cluster's key-to-slot mapping: CRC16 (XMODEM) of the key, or of its hash tag (the text between the
/// first `{` and the next `}`, when not empty), modulo 16384.
package enum RedisHashSlot {
    package static let count = 16_384

    package static func slot(of key: String) -> Int {
        let bytes = Array(key.utf8)
        var hashed = bytes[...]
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
            let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            hashed = bytes[(open + 1)..<close]
        }
        return Int(crc16(hashed)) & (count - 1)
    }

    /// The key a command is routed by: the first key of `EVAL`/`EVALSHA`, none for commands that any node
    /// answers (`PUBLISH`, `PING`, `SCRIPT`, …), the first argument otherwise.
    static func routingKey(_ arguments: [RESPArgument]) -> String? {
        guard let name = arguments.first?.commandName else { return nil }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard arguments.count > 3, case .string(let count) = arguments[2], (Int(count) ?? 0) > 0 else { return nil }
            return arguments[3].text
        case "PUBLISH", "PING", "SCRIPT", "INFO", "CLUSTER", "ROLE", "TIME", "DBSIZE", "FLUSHALL", "FLUSHDB", "ECHO":
            return nil
        default:
            return arguments.count > 1 ? arguments[1].text : nil
        }
    }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as in Redis's `crc16.c`.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}

extension RESPArgument {
    /// The argument as text (bytes read as UTF-8), for routing.
    var text: String {
        switch self {
        case .string(let text): text
        case .bytes(let buffer): String(buffer: buffer)
        }
    }
}
