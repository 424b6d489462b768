import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `POST /api/v1/authz/check` and `check-batch` (`authz:check`): may this principal do this action on this
/// resource, and which rule and entry decided.
struct AuthzController {
    let authz: AuthzService
    let maxBodySize: Int
    static let maxBatch = 100
    /// The fields of one check, built once rather than on every check.
    static let checkFields: Set<String> = ["principal", "action", "resource"]

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("check", use: check)
        group.post("check-batch", use: checkBatch)
    }

    struct Question {
        var principal: PrincipalReference
        var action: String
        var resource: ResourceName
    }

    @Sendable func check(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try context.requirePrincipal()
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: Self.checkFields)
        let question = Self.question(&body)
        try body.finish()
        guard let question else { throw DomainError.invalid("body", "is incomplete") }
        let decision = try await decide(question, caller: caller, request: request, context: context)
        return try Response.json(DecisionResponse(decision: decision))
    }

    @Sendable func checkBatch(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try context.requirePrincipal()
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: ["checks"])
        var questions: [Question] = []
        switch body.array("checks") {
        case .set(let items):
            if items.isEmpty || items.count > Self.maxBatch {
                body.fail("checks", "must hold 1 to \(Self.maxBatch) checks")
            }
            for (index, item) in items.prefix(Self.maxBatch).enumerated() {
                guard case .object(let object) = item else {
                    body.fail("checks[\(index)]", "must be an object")
                    continue
                }
                var reader = JSONObjectReader(.object(object), allowed: Self.checkFields, path: "checks[\(index)]")
                if let question = Self.question(&reader) { questions.append(question) }
                body.absorb(reader.errors)
            }
        case .clear, .unchanged: body.fail("checks", "is required")
        }
        try body.finish()
        var results: [DecisionResponse] = []
        for (index, question) in questions.enumerated() {
            let decision = try await decide(question, caller: caller, request: request, context: context, field: "checks[\(index)].principal")
            results.append(DecisionResponse(decision: decision))
        }
        return try Response.json(BatchResponse(results: results))
    }

    static func question(_ body: inout JSONObjectReader) -> Question? {
        let principal = body.principal("principal")
        let action = body.action("action", wildcard: false)
        let resource = body.resource("resource")
        guard let principal, let action, let resource else { return nil }
        return Question(principal: principal, action: action, resource: resource)
    }

    func decide(
        _ question: Question,
        caller: Principal,
        request: Request,
        context: AppRequestContext,
        field: String = "principal"
    )
        async throws -> AuthzDecision
    {
        let decision = try await authz.check(question.principal, action: question.action, resource: question.resource, field: field)
        if authz.audits(decision) {
            _ = try? await authz.store.appendAudit([
                AuditEvent(
                    time: authz.clock.now,
                    actor: caller.auditActor,
                    action: AuditAction.authzDecision,
                    targetType: "resource",
                    targetID: question.resource.text,
                    outcome: decision.allowed ? .success : .failure,
                    origin: context.origin(request),
                    details: [
                        "principal": .string(question.principal.description), "action": .string(question.action),
                        "rule": .string(decision.rule.rawValue), "entry_id": decision.entryID.map { .string($0.lowercased) } ?? .null,
                    ]
                )
            ])
        }
        return decision
    }
}

struct DecisionResponse: Encodable {
    var decision: AuthzDecision

    enum CodingKeys: String, CodingKey { case allowed, reason }
    enum ReasonKeys: String, CodingKey {
        case rule, resource
        case entryID = "entry_id"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(decision.allowed, forKey: .allowed)
        var reason = container.nestedContainer(keyedBy: ReasonKeys.self, forKey: .reason)
        try reason.encode(decision.rule.rawValue, forKey: .rule)
        try reason.encode(decision.entryID?.lowercased, forKey: .entryID)
        try reason.encode(decision.resource?.text, forKey: .resource)
    }
}

struct BatchResponse: Encodable {
    var results: [DecisionResponse]
}
