import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// The administrators' pages: people (`users:manage`), groups and ACL entries (`authz:manage`). Each page checks
/// the permission itself, as the API's endpoint policy does for the same changes.
extension ConsoleController {
    func addAdminPages(to console: RouterGroup<AppRequestContext>) {
        console.get("users", use: usersPage)
        console.post("users", use: createUser)
        console.get("groups", use: groupsPage)
        console.post("groups", use: createGroup)
        console.get("groups/{id}", use: groupPage)
        console.post("groups/{id}/members", use: addMember)
        console.post("groups/{id}/members/remove", use: removeMember)
        console.get("acl", use: aclPage)
        console.post("acl", use: createEntry)
        console.post("acl/{id}/delete", use: deleteEntry)
    }

    /// Runs `body` for a person holding `permission`; anyone else gets a 403 page.
    func withPermission(
        _ permission: Permission,
        _ request: Request,
        context: AppRequestContext,
        form: [String: String]? = nil,
        _ body: (ConsoleSession, CSRFToken) async throws -> Response
    ) async throws -> Response {
        try await withSession(request, context: context, form: form) { session, csrf in
            guard session.principal.allows(permission) else {
                let main = "<h1>Not allowed</h1><p>This page needs the permission <code>\(permission.rawValue)</code>, which administrators have.</p>"
                return page(request, context: context, csrf: csrf, title: "Not allowed", person: session.person, main: main, status: .forbidden)
            }
            return try await body(session, csrf)
        }
    }

    /// The message of a refused change, for the page that made it.
    static func message(_ error: any Error) -> String? {
        switch error {
        case let error as DomainError:
            error.errors.isEmpty ? error.detail : error.errors.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        case let error as APIError: error.detail
        default: nil
        }
    }

    // MARK: People

    @Sendable func usersPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withPermission(.usersManage, request, context: context) { session, csrf in
            try await usersPage(request, context, session, csrf, error: nil)
        }
    }

    func usersPage(
        _ request: Request,
        _ context: AppRequestContext,
        _ session: ConsoleSession,
        _ csrf: CSRFToken,
        error: String?
    ) async throws -> Response {
        let people = try await users.users(matching: UserQuery(limit: 100), by: session.principal).users
        let main = ConsolePages.users(people, now: keys.clock.now, csrf: csrf.token, error: error)
        return page(request, context, session, csrf, title: "People", main: main, error: error)
    }

    @Sendable func createUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withPermission(.usersManage, request, context: context, form: form) { session, csrf in
            let password = form["password"].flatMap { $0.isEmpty ? nil : $0 }
            let new = UserService.NewUser(
                username: form["username"] ?? "",
                email: form["email"] ?? "",
                password: password,
                role: Role(rawValue: form["role"] ?? "") ?? .member
            )
            if new.role == .admin {
                return try await usersPage(
                    request,
                    context,
                    session,
                    csrf,
                    error: "Administrators are made through the API, with a second factor (step-up)."
                )
            }
            do {
                _ = try await users.create(new, by: session.principal, origin: context.origin(request))
            } catch {
                guard let message = Self.message(error) else { throw error }
                return try await usersPage(request, context, session, csrf, error: message)
            }
            return Self.redirect("/console/users")
        }
    }

    // MARK: Groups

    @Sendable func groupsPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withPermission(.authzManage, request, context: context) { session, csrf in
            try await groupsPage(request, context, session, csrf, error: nil)
        }
    }

    func groupsPage(
        _ request: Request,
        _ context: AppRequestContext,
        _ session: ConsoleSession,
        _ csrf: CSRFToken,
        error: String?
    ) async throws -> Response {
        let groups = try await authz.store.groups(matching: GroupQuery(limit: 100))
        let main = ConsolePages.groups(groups, csrf: csrf.token, error: error)
        return page(request, context, session, csrf, title: "Groups", main: main, error: error)
    }

    @Sendable func createGroup(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withPermission(.authzManage, request, context: context, form: form) { session, csrf in
            let new = AuthzService.NewGroup(
                name: form["name"] ?? "",
                description: form["description"].flatMap { $0.isEmpty ? nil : $0 },
                mfaRequired: form["mfa_required"] == "on"
            )
            do {
                let group = try await authz.createGroup(new, by: session.principal, origin: context.origin(request))
                return Self.redirect("/console/groups/\(group.id.lowercased)")
            } catch {
                guard let message = Self.message(error) else { throw error }
                return try await groupsPage(request, context, session, csrf, error: message)
            }
        }
    }

    @Sendable func groupPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withPermission(.authzManage, request, context: context) { session, csrf in
            try await groupPage(request, context, session, csrf, error: nil)
        }
    }

    func groupPage(
        _ request: Request,
        _ context: AppRequestContext,
        _ session: ConsoleSession,
        _ csrf: CSRFToken,
        error: String?
    ) async throws -> Response {
        guard let id = UUID(strict: context.parameters.get("id") ?? ""), let group = try await authz.store.group(id: id) else {
            return notFound(request, context, session, csrf)
        }
        let memberships = try await authz.store.members(groupID: id, after: nil, limit: 200)
        var names = [PrincipalReference: String]()
        for membership in memberships {
            switch membership.member {
            case .user(let userID): names[membership.member] = try await users.store.user(id: userID)?.username
            case .group(let groupID): names[membership.member] = try await authz.store.group(id: groupID)?.name
            case .key: break
            }
        }
        let main = ConsolePages.group(group, members: memberships.map { ($0.member, names[$0.member]) }, csrf: csrf.token, error: error)
        return page(request, context, session, csrf, title: group.name, main: main, error: error)
    }

    /// Adds a person (by username) or a group (by name) to a group.
    @Sendable func addMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withPermission(.authzManage, request, context: context, form: form) { session, csrf in
            guard let id = UUID(strict: context.parameters.get("id") ?? "") else { return Self.redirect("/console/groups") }
            let name = (form["member"] ?? "").trimmingCharacters(in: .whitespaces)
            var member: PrincipalReference?
            if case .success(let username) = Username.normalize(name), let user = try await users.store.user(username: username) {
                member = .user(user.id)
            } else if let group = try await authz.store.groups(matching: GroupQuery(search: name, limit: 100)).first(where: {
                $0.name.lowercased() == name.lowercased()
            }) {
                member = .group(group.id)
            }
            guard let member else { return try await groupPage(request, context, session, csrf, error: "No person or group is named '\(name)'.") }
            do {
                _ = try await authz.addMember(member, to: id, by: session.principal, origin: context.origin(request))
            } catch {
                guard let message = Self.message(error) else { throw error }
                return try await groupPage(request, context, session, csrf, error: message)
            }
            return Self.redirect("/console/groups/\(id.lowercased)")
        }
    }

    @Sendable func removeMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withPermission(.authzManage, request, context: context, form: form) { session, _ in
            guard let id = UUID(strict: context.parameters.get("id") ?? ""), let member = PrincipalReference(form["member"] ?? "") else {
                return Self.redirect("/console/groups")
            }
            _ = try await authz.removeMember(member, from: id, by: session.principal, origin: context.origin(request))
            return Self.redirect("/console/groups/\(id.lowercased)")
        }
    }

    // MARK: ACL entries

    @Sendable func aclPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withPermission(.authzManage, request, context: context) { session, csrf in
            try await aclPage(request, context, session, csrf, error: nil)
        }
    }

    func aclPage(
        _ request: Request,
        _ context: AppRequestContext,
        _ session: ConsoleSession,
        _ csrf: CSRFToken,
        error: String?
    ) async throws -> Response {
        let resource = request.uri.queryParameters.get("resource").flatMap { $0.isEmpty ? nil : ResourceName($0) }
        let entries = try await authz.store.entries(matching: ACLQuery(resources: resource.map { [$0] }, limit: 100))
        let main = ConsolePages.acl(entries, resource: resource?.description, csrf: csrf.token, error: error)
        return page(request, context, session, csrf, title: "Access control", main: main, error: error)
    }

    @Sendable func createEntry(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withPermission(.authzManage, request, context: context, form: form) { session, csrf in
            var problems = [String]()
            let resource = ResourceName(form["resource"] ?? "")
            if resource == nil { problems.append("resource: not a resource name such as project:acme/web") }
            var subject = PrincipalReference(form["principal"] ?? "")
            if subject == nil, case .success(let username) = Username.normalize(form["principal"] ?? ""),
                let user = try await users.store.user(username: username)
            {
                subject = .user(user.id)
            }
            if subject == nil { problems.append("principal: not a username, nor user:<id>, group:<id> or key:<id>") }
            let action = form["action"] ?? ""
            if let problem = ActionName.problem(action) { problems.append("action: \(problem)") }
            let effect = ACLEntry.Effect(rawValue: form["effect"] ?? "")
            let kind = ACLEntry.Kind(rawValue: form["kind"] ?? "acl")
            guard problems.isEmpty, let resource, let subject, let effect, let kind else {
                return try await aclPage(
                    request,
                    context,
                    session,
                    csrf,
                    error: problems.isEmpty ? "effect and kind are required" : problems.joined(separator: "; ")
                )
            }
            do {
                _ = try await authz.createEntry(
                    .init(resource: resource, principal: subject, action: action, effect: effect, kind: kind),
                    by: session.principal,
                    origin: context.origin(request)
                )
            } catch {
                guard let message = Self.message(error) else { throw error }
                return try await aclPage(request, context, session, csrf, error: message)
            }
            return Self.redirect("/console/acl")
        }
    }

    @Sendable func deleteEntry(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withPermission(.authzManage, request, context: context, form: form) { session, _ in
            if let id = UUID(strict: context.parameters.get("id") ?? "") {
                do { try await authz.deleteEntry(id: id, by: session.principal, origin: context.origin(request)) } catch let error as DomainError
                    where error.code == .notFound
                {}
            }
            return Self.redirect("/console/acl")
        }
    }
}
