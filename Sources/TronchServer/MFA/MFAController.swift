import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `/api/v1/users/me/mfa/…` (a person's own second factors), `DELETE /api/v1/users/{id}/mfa` (an
/// administrator's reset) and `POST /api/v1/auth/mfa` (the second step of a login).
struct MFAController {
    let users: UserService
    let maxBodySize: Int
    var mfa: MFAService { users.mfa }

    func addRoutes(users group: RouterGroup<AppRequestContext>, auth: RouterGroup<AppRequestContext>) {
        group.post("me/mfa/totp", use: enrol)
        group.post("me/mfa/totp/confirm", use: confirm)
        group.delete("me/mfa/totp", use: disable)
        group.post("me/mfa/recovery-codes", use: regenerate)
        group.delete("{id}/mfa", use: reset)
        auth.post("mfa", use: complete)
    }

    @Sendable func enrol(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try await users.me(try context.requirePrincipal())
        let enrolment = try await mfa.enrolTOTP(user, origin: context.origin(request))
        return try Response.json(["secret": .string(enrolment.secret), "otpauth_uri": .string(enrolment.uri)] as JSONValue)
    }

    @Sendable func confirm(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try await users.me(try context.requirePrincipal())
        let code = try await Self.field(request, "code", maxSize: maxBodySize)
        let codes = try await mfa.confirmTOTP(user, code: code, origin: context.origin(request))
        users.directory.invalidate(user.id)
        return try Response.json(["recovery_codes": .array(codes.map(JSONValue.string))] as JSONValue)
    }

    @Sendable func regenerate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try await users.me(try context.requirePrincipal())
        let code = try await Self.field(request, "code", maxSize: maxBodySize)
        let codes = try await mfa.regenerateRecoveryCodes(user, code: code, origin: context.origin(request))
        return try Response.json(["recovery_codes": .array(codes.map(JSONValue.string))] as JSONValue)
    }

    @Sendable func disable(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try await users.me(try context.requirePrincipal())
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: ["code", "recovery_code"])
        let code = body.notNull("code")
        let recovery = body.notNull("recovery_code")
        if (code == nil) == (recovery == nil) && !body.hasErrors("code") && !body.hasErrors("recovery_code") {
            body.fail("code", "send exactly one of code and recovery_code")
        }
        try body.finish()
        try await mfa.disable(user, code: code, recoveryCode: recovery, origin: context.origin(request))
        users.directory.invalidate(user.id)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    @Sendable func reset(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try UserService.requireManager(principal)
        let id = try UsersController.id(context)
        guard principal.user?.id != id else {
            // One's own factor goes only with a proof of it: a stolen password session must not strip it.
            throw APIError(.forbidden, "to turn off your own second factor use DELETE /api/v1/users/me/mfa/totp with a code")
        }
        if try await users.store.user(id: id)?.role == .admin { try UserService.requireAdmin(principal) }
        try await users.stepUp.require(principal, for: "resetting another person's second factor", origin: context.origin(request))
        try await mfa.reset(userID: id, by: principal, origin: context.origin(request))
        users.directory.invalidate(id)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    @Sendable func complete(_ request: Request, context: AppRequestContext) async throws -> Response {
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: ["mfa_token", "code", "recovery_code"])
        let token = body.required("mfa_token")
        let code = body.notNull("code")
        let recovery = body.notNull("recovery_code")
        if (code == nil) == (recovery == nil) && !body.hasErrors("code") && !body.hasErrors("recovery_code") {
            body.fail("code", "send exactly one of code and recovery_code")
        }
        try body.finish()
        let pair = try await users.completeLogin(
            mfaToken: token ?? "",
            method: code != nil ? "totp" : "recovery_code",
            answer: code ?? recovery ?? "",
            origin: context.origin(request)
        )
        return try Response.json(TokenAnswer(pair))
    }

    /// The one string field of a small body (`{"code": "123456"}`).
    static func field(_ request: Request, _ name: String, maxSize: Int) async throws -> String {
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxSize), allowed: [name])
        let value = body.required(name)
        try body.finish()
        return value ?? ""
    }
}
