import HTTPTypes
import Hummingbird
import TronchCore

extension Router where Context == AppRequestContext {
    /// Methods a client may reasonably send to any path; those a path does not serve answer 405.
    static var standardMethods: [HTTPRequest.Method] {
        [.get, .head, .post, .put, .patch, .delete, .options, .trace, .connect, HTTPRequest.Method("QUERY")!]
    }

    /// Answers `405 Method Not Allowed` with an `Allow` header (RFC 9110 §15.5.6) for every standard method a
    /// routed path does not serve, so that 404 means "no such path" only.
    ///
    /// Call it after every route is added: the allowed methods are read from the router's own table, so a
    /// route added later in the same way gets its 405s without anyone keeping a list.
    func addMethodNotAllowedResponses() {
        var allowed: [String: (path: RouterPath, methods: [HTTPRequest.Method])] = [:]
        for route in routes {
            allowed[route.path.description, default: (route.path, [])].methods.append(route.method)
        }
        for (_, entry) in allowed {
            let allow = entry.methods.map(\.rawValue).sorted().joined(separator: ", ")
            for method in Self.standardMethods where !entry.methods.contains(method) {
                on(entry.path, method: method) { request, _ -> Response in
                    throw APIError(
                        .methodNotAllowed,
                        "\(request.method) is not allowed here; this path accepts \(allow)",
                        headers: [.allow: allow]
                    )
                }
            }
        }
    }
}
