import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

package enum TestPorts {
    /// Ports are handed out from below the kernel's ephemeral range (32768 and up), where the outgoing
    /// connections of a busy test run take their local ports: a port picked there could be taken by some
    /// connection between the pick and the server's bind ("Address already in use"). Each port is handed out
    /// once per run, from a random start, and only when nothing listens on it.
    static let range = 20_000..<32_000
    private static let next = Mutex(Int.random(in: 0..<range.count))

    /// A loopback port nothing listens on right now, not handed out before in this run.
    package static func free() throws -> Int { try free(consecutive: 1) }

    /// The first of `count` consecutive such ports (a Redis set of a master, replica and Sentinel).
    package static func free(consecutive count: Int) throws -> Int {
        for _ in 0..<1_000 {
            let first = next.withLock { offset in
                if offset + count > range.count { offset = 0 }
                defer { offset += count }
                return range.lowerBound + offset
            }
            if (first..<first + count).allSatisfy(isFree) { return first }
        }
        throw POSIXError(.EADDRINUSE)
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        return bound == 0
    }
}
