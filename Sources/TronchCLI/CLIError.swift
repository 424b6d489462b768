import TronchCore

/// A failure the CLI reports as one line and a non-zero exit status.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    /// The server's problem document, when the failure is an answer of the server.
    var problem: JSONValue?

    init(_ description: String, problem: JSONValue? = nil) {
        self.description = description
        self.problem = problem
    }
}
