import NIOCore
import TronchCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension IPAddress {
    /// The address of an IPv4 or IPv6 socket, read from its bytes: a peer's address is needed on every
    /// authenticated request, and NIO's text form costs a formatting, a string and a parse each time.
    /// Nil for a Unix domain socket.
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self = .v4(UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            let words = withUnsafeBytes(of: v6.address.sin6_addr) { bytes in
                var high: UInt64 = 0
                var low: UInt64 = 0
                for index in 0..<8 {
                    high = high << 8 | UInt64(bytes[index])
                    low = low << 8 | UInt64(bytes[index + 8])
                }
                return (high, low)
            }
            self = .v6(words.0, words.1)
        case .unixDomainSocket:
            return nil
        }
    }
}
