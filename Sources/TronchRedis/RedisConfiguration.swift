import Foundation

/// Where Redis is and how to log in: `redis://[user[:password]@]host[:port][/db]`.
package struct RedisConfiguration: Sendable, Hashable {
    package var host: String
    package var port: Int
    package var username: String?
    package var password: String?
    package var database: Int
    /// Time box of every call; past it the call fails with ``RedisError/timeout``.
    package var commandTimeout: Duration
    package var connectTimeout: Duration

    package init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        commandTimeout: Duration = .milliseconds(250),
        connectTimeout: Duration = .seconds(2)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
    }

    package init(url: String, commandTimeout: Duration = .milliseconds(250)) throws(RedisError) {
        guard let components = URLComponents(string: url), components.scheme == "redis" else {
            throw .invalidURL("the Redis URL must look like redis://[user:password@]host[:port][/db]")
        }
        var path = components.path
        if path.hasPrefix("/") { path.removeFirst() }
        guard path.isEmpty || Int(path) != nil, (Int(path) ?? 0) >= 0 else {
            throw .invalidURL("the Redis database in the URL must be a number")
        }
        let user = components.user.flatMap { $0.removingPercentEncoding }
        let password = components.password.flatMap { $0.removingPercentEncoding }
        self.init(
            host: components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1",
            port: components.port ?? 6379,
            // `redis://:password@host` has an empty user: the default user, as in redis-cli.
            username: user.flatMap { $0.isEmpty ? nil : $0 },
            password: password,
            database: Int(path) ?? 0,
            commandTimeout: commandTimeout
        )
    }
}
