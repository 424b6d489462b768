import ArgumentParser
import Foundation
import NIOHTTP1
import TronchCore

#if canImport(Glibc)
import Glibc
#endif

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage people on a running Tronch server (an admin's access token or the root key).",
        discussion:
            "Passwords are read from a prompt (not echoed) or, with --password-stdin, from standard input: never from an argument, which would land in the shell's history.",
        subcommands: [Create.self, List.self, Show.self, Update.self, Delete.self, Unlock.self]
    )

    static func printUser(_ user: JSONValue, json: Bool) {
        if json {
            print(user.prettyJSON)
            return
        }
        let fields: [(String, String)] = [
            ("id", "id"), ("username", "username"), ("email", "email"), ("display name", "display_name"), ("role", "role"),
            ("status", "status"), ("locked until", "locked_until"), ("mfa", "mfa_enabled"), ("created", "created_at"),
            ("updated", "updated_at"), ("last login", "last_login_at"),
        ]
        let width = fields.map(\.0.count).max() ?? 0
        for (label, name) in fields {
            print("\(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(user[name]?.text ?? "-")")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")
        @OptionGroup var client: ClientOptions
        @Option(help: "3-64 of a-z 0-9 . _ - (any case; kept lower-cased).") var username: String
        @Option(help: "The user's e-mail address.") var email: String
        @Option(name: .customLong("display-name"), help: "A name for people to read.") var displayName: String?
        @Option(help: "admin, member (default) or viewer.") var role: String?
        @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input instead of a prompt.")
        var passwordFromStdin = false
        @Flag(name: .customLong("no-password"), help: "Create the user without a password (they cannot log in yet).")
        var noPassword = false

        func run() async throws {
            var body: [String: JSONValue] = ["username": .string(username), "email": .string(email)]
            if let displayName { body["display_name"] = .string(displayName) }
            if let role { body["role"] = .string(role) }
            if !noPassword {
                body["password"] = .string(try Password.read(prompt: "Password for \(username): ", fromStdin: passwordFromStdin, confirm: true))
            }
            let user = try await client.client().send(.POST, "/api/v1/users", body: .object(body))
            UsersCommand.printUser(user, json: client.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users, newest first.")
        @OptionGroup var client: ClientOptions
        @Option(help: "admin, member or viewer.") var role: String?
        @Option(help: "active or disabled.") var status: String?
        @Option(help: "A case-insensitive part of the username, e-mail address or display name.") var search: String?
        @Option(help: "Users per page (1-100).") var limit: Int?

        func run() async throws {
            var query = [(String, String)]()
            if let role { query.append(("role", role)) }
            if let status { query.append(("status", status)) }
            if let search { query.append(("q", search)) }
            if let limit { query.append(("limit", String(limit))) }
            let api = try client.client()
            var users = [JSONValue]()
            var next: String?
            repeat {
                let page = try await api.send(.GET, "/api/v1/users", query: query + (next.map { [("cursor", $0)] } ?? []))
                users += page["data"]?.array ?? []
                next = page["next_cursor"]?.string
            } while next != nil
            if client.json {
                print(JSONValue.object(["data": .array(users), "next_cursor": .null]).prettyJSON)
                return
            }
            print(
                Table(
                    headers: ["ID", "USERNAME", "EMAIL", "ROLE", "STATUS", "LAST LOGIN"],
                    rows: users.map { user in
                        ["id", "username", "email", "role", "status", "last_login_at"].map { user[$0]?.text ?? "-" }
                    }
                ).rendered
            )
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user (or 'me').")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's id, or me.") var id: String

        func run() async throws {
            UsersCommand.printUser(try await client.client().send(.GET, "/api/v1/users/\(try userPath(id))"), json: client.json)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user; what you leave out stays as it is.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's id.") var id: String
        @Option(help: "A new username.") var username: String?
        @Option(help: "A new e-mail address.") var email: String?
        @Option(name: .customLong("display-name"), help: "A new display name.") var displayName: String?
        @Option(help: "admin, member or viewer.") var role: String?
        @Option(help: "active or disabled (disabling revokes the user's keys and ends their sessions).") var status: String?
        @Flag(name: .customLong("reset-password"), help: "Set a new password (prompted; ends every session of the user).")
        var resetPassword = false
        @Flag(name: .customLong("password-stdin"), help: "With --reset-password: read it from standard input.")
        var passwordFromStdin = false

        func run() async throws {
            var body: [String: JSONValue] = [:]
            if let username { body["username"] = .string(username) }
            if let email { body["email"] = .string(email) }
            if let displayName { body["display_name"] = .string(displayName) }
            if let role { body["role"] = .string(role) }
            if let status { body["status"] = .string(status) }
            if resetPassword { body["password"] = .string(try Password.read(prompt: "New password: ", fromStdin: passwordFromStdin, confirm: true)) }
            guard !body.isEmpty else { throw CLIError("nothing to change: give at least one option") }
            let user = try await client.client().send(.PATCH, "/api/v1/users/\(try userPath(id))", body: .object(body))
            UsersCommand.printUser(user, json: client.json)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user: their keys are revoked and their sessions end.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's id.") var id: String

        func run() async throws {
            let user = try await client.client().send(.DELETE, "/api/v1/users/\(try userPath(id))")
            if client.json { print(user.prettyJSON) } else { print("deleted \(user["username"]?.text ?? id)") }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Clear a user's lock and failed-login count.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's id.") var id: String

        func run() async throws {
            UsersCommand.printUser(try await client.client().send(.POST, "/api/v1/users/\(try userPath(id))/unlock"), json: client.json)
        }
    }
}

/// A user id or `me`, checked before it goes into a path.
func userPath(_ id: String) throws -> String {
    if id == "me" { return id }
    guard let uuid = UUID(strict: id) else { throw CLIError("'\(id)' is not a user id (a UUID) or me") }
    return uuid.uuidString.lowercased()
}

/// `tronch login`: prints an access token for `export TRONCH_API_KEY=$(tronch login …)`; stores nothing.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in with a password and print an access token.",
        discussion: """
            The token goes to standard output and nowhere else (no file is written): export TRONCH_API_KEY=$(tronch login --username ada) \
            lets the other commands act as you until it expires. --json prints the whole answer, the refresh token included. \
            With a second factor, the code is asked next (with --password-stdin, it is the second line of standard input).
            """
    )
    @OptionGroup var client: ClientOptions
    @Option(help: "Your username.") var username: String?
    @Option(help: "Your e-mail address (instead of the username).") var email: String?
    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input instead of a prompt.")
    var passwordFromStdin = false

    func run() async throws {
        guard (username == nil) != (email == nil) else { throw CLIError("give --username or --email") }
        var body: [String: JSONValue] = [
            "password": .string(try Password.read(prompt: "Password: ", fromStdin: passwordFromStdin, confirm: false))
        ]
        if let username { body["username"] = .string(username) }
        if let email { body["email"] = .string(email) }
        let anonymous = client.anonymousClient()
        var answer: JSONValue
        do {
            answer = try await anonymous.send(.POST, "/api/v1/auth/login", body: .object(body))
        } catch let error as CLIError where error.problem?["code"]?.string == "MFA_REQUIRED" {
            // The second step: a TOTP code, or a recovery code (which has letters or a dash).
            guard let token = error.problem?["mfa_token"]?.string else { throw error }
            let code = try Password.read(
                prompt: "Code from your authenticator app (or a recovery code): ",
                fromStdin: passwordFromStdin,
                confirm: false
            )
            let isTOTP = code.allSatisfy(\.isNumber)
            answer = try await anonymous.send(
                .POST,
                "/api/v1/auth/mfa",
                body: ["mfa_token": .string(token), isTOTP ? "code" : "recovery_code": .string(code)]
            )
        }
        if client.json { print(answer.prettyJSON) } else { print(answer["access_token"]?.text ?? "") }
    }
}

/// Passwords from a prompt that does not echo, or from standard input (one line).
enum Password {
    static func read(prompt: String, fromStdin: Bool, confirm: Bool) throws -> String {
        if fromStdin || isatty(STDIN_FILENO) == 0 {
            guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else { throw CLIError("no password on standard input") }
            return line
        }
        let first = try silentLine(prompt)
        if confirm, try silentLine("Again: ") != first { throw CLIError("the two passwords differ") }
        return first
    }

    private static func silentLine(_ prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &original)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else { throw CLIError("no password given") }
        return line
    }
}
