import Foundation

/// Where Redis is and how to log in. Three forms of URL:
///
/// - `redis://[user[:password]@]host[:port][/db]`: one server.
/// - `redis-cluster://[user[:password]@]host:port[,host:port…]`: a Redis Cluster, found from any of these
///   seed nodes (the client reads the slot map from the first that answers and follows `MOVED` and `ASK`).
/// - `redis-sentinel://[user[:password]@]host:port[,host:port…][/db]#master`: the master that these Sentinels
///   name `master`, asked again after every disconnection (the form Lettuce and Spring use). The credentials
///   are the master's; the Sentinels are asked without any.
package struct RedisConfiguration: Sendable, Hashable {
    /// How the servers are laid out.
    package enum Topology: Sendable, Hashable {
        /// One server, at `host` and `port`.
        case standalone
        /// A Redis Cluster, discovered from these seed nodes.
        case cluster(seeds: [RedisAddress])
        /// A master watched by Sentinels: the address comes from the first Sentinel that answers.
        case sentinel(master: String, sentinels: [RedisAddress])
    }

    package var host: String
    package var port: Int
    package var topology: Topology
    package var username: String?
    package var password: String?
    package var database: Int
    /// Time box of every call; past it the call fails with ``RedisError/timeout``.
    package var commandTimeout: Duration
    package var connectTimeout: Duration

    package init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        topology: Topology = .standalone,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        commandTimeout: Duration = .milliseconds(250),
        connectTimeout: Duration = .seconds(2)
    ) {
        self.host = host
        self.port = port
        self.topology = topology
        self.username = username
        self.password = password
        self.database = database
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
    }

    package init(url: String, commandTimeout: Duration = .milliseconds(250)) throws(RedisError) {
        let usage =
            "the Redis URL must look like redis://[user:password@]host[:port][/db], "
            + "redis-cluster://[user:password@]host:port[,host:port…] or "
            + "redis-sentinel://[user:password@]host:port[,host:port…][/db]#master"
        guard let schemeEnd = url.range(of: "://") else { throw .invalidURL(usage) }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard ["redis", "redis-cluster", "redis-sentinel"].contains(scheme) else { throw .invalidURL(usage) }
        var rest = Substring(url[schemeEnd.upperBound...])

        var fragment: String?
        if let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...]).removingPercentEncoding
            rest = rest[..<hash]
        }
        guard !rest.contains("?") else { throw .invalidURL("the Redis URL takes no query parameters") }
        var path = ""
        // The user information may hold a `/` only percent-encoded, so the first `/` after the last `@` starts the path.
        let hostStart = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let slash = rest[hostStart...].firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = parts[0].removingPercentEncoding,
                let secret = parts.count > 1 ? parts[1].removingPercentEncoding : nil as String?
            else { throw .invalidURL("the Redis URL's user or password is not percent-encoded properly") }
            // `redis://:password@host` has an empty user: the default user, as in redis-cli.
            username = user.isEmpty ? nil : user
            password = parts.count > 1 ? secret : nil
        }
        guard path.isEmpty || Int(path) != nil, (Int(path) ?? 0) >= 0 else {
            throw .invalidURL("the Redis database in the URL must be a number")
        }
        var addresses = [RedisAddress]()
        for text in rest.split(separator: ",", omittingEmptySubsequences: false) { addresses.append(try RedisAddress(parsing: text)) }

        let topology: Topology
        switch scheme {
        case "redis-cluster":
            guard !addresses.isEmpty else { throw .invalidURL(usage) }
            guard (Int(path) ?? 0) == 0 else { throw .invalidURL("a Redis Cluster has only database 0") }
            guard fragment == nil else { throw .invalidURL("a redis-cluster:// URL takes no #name") }
            topology = .cluster(seeds: addresses)
        case "redis-sentinel":
            guard let master = fragment, !master.isEmpty else {
                throw .invalidURL("a redis-sentinel:// URL names the master after '#': redis-sentinel://host:26379#mymaster")
            }
            topology = .sentinel(master: master, sentinels: addresses)
        default:
            guard addresses.count == 1 else {
                throw .invalidURL("a redis:// URL names one server; several are redis-cluster:// or redis-sentinel://")
            }
            guard fragment == nil else { throw .invalidURL(usage) }
            topology = .standalone
        }
        self.init(
            host: addresses[0].host,
            port: addresses[0].port,
            topology: topology,
            username: username,
            password: password,
            database: Int(path) ?? 0,
            commandTimeout: commandTimeout
        )
    }
}

/// A Redis server's host and port.
package struct RedisAddress: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host`, `host:port` or `[v6]:port`; an empty host is 127.0.0.1 and a missing port 6379.
    init(parsing text: Substring, defaultPort: Int = 6379) throws(RedisError) {
        var host = text
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidURL("'\(text)' is not a Redis host[:port]") }
            host = text[text.index(after: text.startIndex)..<close]
            let tail = text[text.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":"), let number = Int(tail.dropFirst()) else { throw .invalidURL("'\(text)' is not a Redis host[:port]") }
                port = number
            }
        } else if let colon = text.lastIndex(of: ":") {
            guard let number = Int(text[text.index(after: colon)...]) else { throw .invalidURL("'\(text)' is not a Redis host[:port]") }
            host = text[..<colon]
            port = number
        }
        guard (1...65_535).contains(port) else { throw .invalidURL("the Redis port in '\(text)' is not between 1 and 65535") }
        self.init(host: host.isEmpty ? "127.0.0.1" : String(host), port: port)
    }

    /// `host:port` as Redis writes it in `MOVED` and `ASK` (`ip:port`).
    init?(redirect text: Substring) {
        guard let address = try? RedisAddress(parsing: text) else { return nil }
        self = address
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
