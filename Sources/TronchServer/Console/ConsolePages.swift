import Foundation
import TronchCore

/// The console's pages, as the `main` of ``HTML/page(title:signedIn:csrf:main:)``: labelled fields, buttons
/// that are buttons, and no script needed.
enum ConsolePages {
    static func login(csrf: String, error: String?) -> String {
        """
        <h1>Sign in</h1>
        \(alert(error))
        <form method="post" action="/console/login">
          \(HTML.csrfField(csrf))
          <label for="username">Username or e-mail address</label>
          <input id="username" name="username" autocomplete="username" required autofocus>
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required>
          <p><button type="submit">Sign in</button></p>
        </form>
        """
    }

    static func secondFactor(csrf: String, mfaToken: String, error: String?) -> String {
        """
        <h1>Second factor</h1>
        \(alert(error))
        <form method="post" action="/console/mfa">
          \(HTML.csrfField(csrf))
          <input type="hidden" name="mfa_token" value="\(HTML.escape(mfaToken))">
          <label for="code">Code from your authenticator app, or a recovery code</label>
          <input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus>
          <p><button type="submit">Continue</button></p>
        </form>
        """
    }

    static func keys(_ records: [KeyRecord], now: Date, csrf: String, error: String?) -> String {
        let rows = records.map { record in
            let status = record.displayStatus(at: now).rawValue
            let action =
                record.status == .revoked
                ? ""
                : #"<a href="/console/keys/\#(record.id.lowercased)/revoke" aria-label="Revoke \#(HTML.escape(record.settings.name ?? record.start))">Revoke</a>"#
            return """
                    <tr>
                      <td><a href="/console/keys/\(record.id.lowercased)">\(HTML.escape(record.settings.name ?? "(no name)"))</a></td>
                      <td><code>\(HTML.escape(record.start))…\(HTML.escape(record.end))</code></td>
                      <td>\(HTML.escape(record.environment.rawValue))</td>
                      <td>\(HTML.escape(record.settings.scopes.joined(separator: " ")))</td>
                      <td class="status-\(status)">\(status)</td>
                      <td>\(record.settings.expiresAt.map { HTML.escape(Timestamp.format($0)) } ?? "never")</td>
                      <td>\(action)</td>
                    </tr>
                """
        }.joined(separator: "\n")
        let table =
            records.isEmpty
            ? #"<p class="hint">No keys yet.</p>"#
            : """
            <table>
              <caption class="hint">Your keys, newest first</caption>
              <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Environment</th><th scope="col">Scopes</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
              <tbody>
            \(rows)
              </tbody>
            </table>
            """
        return """
            <h1>Keys</h1>
            \(alert(error))
            \(table)
            <h2>Create a key</h2>
            <form method="post" action="/console/keys">
              \(HTML.csrfField(csrf))
              <label for="name">Name</label>
              <input id="name" name="name" maxlength="256">
              <label for="scopes">Scopes <span class="hint">(separated by spaces, such as orders:read orders:write)</span></label>
              <input id="scopes" name="scopes">
              <label for="environment">Environment</label>
              <select id="environment" name="environment"><option value="live">live</option><option value="test">test</option></select>
              <label for="expires_in_days">Expires in (days) <span class="hint">(empty: never)</span></label>
              <input id="expires_in_days" name="expires_in_days" inputmode="numeric">
              <p><button type="submit">Create key</button></p>
            </form>
            """
    }

    static func created(_ record: KeyRecord, secret: String, rotated graceMinutes: Int64? = nil) -> String {
        let heading =
            graceMinutes.map {
                "<h1>Key rotated</h1><p>This is the new key. \($0 == 0 ? "The old one stopped working now." : "The old one keeps working for \($0) minutes, then stops.")</p>"
            } ?? "<h1>Key created</h1>"
        return """
            \(heading)
            <p>This is the only time the secret is shown: copy it now and give it to the key's holder. Tronch keeps only a hash of it.</p>
            <p id="secret" class="secret">\(HTML.escape(secret))</p>
            <p><button type="button" data-copy="secret" hidden>Copy the secret</button></p>
            <p>Name: \(HTML.escape(record.settings.name ?? "—")) · id <code>\(record.id.lowercased)</code></p>
            <p><a href="/console/keys/\(record.id.lowercased)">The key's page</a> · <a href="/console/keys">Back to the keys</a></p>
            """
    }

    static func key(_ record: KeyRecord, now: Date, chart: UsageChart, daily: Bool, latency: [Int64?], csrf: String, error: String? = nil) -> String {
        let id = record.id.lowercased
        func time(_ date: Date?) -> String { date.map { HTML.escape(Timestamp.format($0)) } ?? "—" }
        let limits = record.settings.ratelimits.map { "\(HTML.escape($0.name)): \($0.limit) per \($0.periodSeconds) s" }.joined(separator: "<br>")
        let periods =
            daily
            ? #"<a href="/console/keys/\#(id)">Last 24 hours</a> · <strong>Last 30 days</strong>"#
            : #"<strong>Last 24 hours</strong> · <a href="/console/keys/\#(id)?period=30d">Last 30 days</a>"#
        let quantiles = zip(["p50", "p95", "p99"], latency).map { "\($0): \($1.map { "\($0) ms" } ?? "—")" }.joined(separator: " · ")
        let active = record.status != .revoked
        return """
            <h1>\(HTML.escape(record.settings.name ?? "(no name)"))</h1>
            \(alert(error))
            <table class="details">
              <tbody>
                <tr><th scope="row">Id</th><td><code>\(id)</code></td></tr>
                <tr><th scope="row">Key</th><td><code>\(HTML.escape(record.start))…\(HTML.escape(record.end))</code></td></tr>
                <tr><th scope="row">Status</th><td class="status-\(record.displayStatus(at: now).rawValue)">\(record.displayStatus(at: now).rawValue)\(record.settings.enabled ? "" : " (disabled)")</td></tr>
                <tr><th scope="row">Environment</th><td>\(HTML.escape(record.environment.rawValue))</td></tr>
                <tr><th scope="row">Owner</th><td>\(HTML.escape(record.settings.ownerID ?? "—"))</td></tr>
                <tr><th scope="row">Scopes</th><td>\(HTML.escape(record.settings.scopes.joined(separator: " ")))</td></tr>
                <tr><th scope="row">Rate limits</th><td>\(limits.isEmpty ? "the default" : limits)</td></tr>
                <tr><th scope="row">Created</th><td>\(time(record.createdAt))</td></tr>
                <tr><th scope="row">Expires</th><td>\(record.settings.expiresAt.map { HTML.escape(Timestamp.format($0)) } ?? "never")</td></tr>
                <tr><th scope="row">Last used</th><td>\(time(record.lastUsedAt))</td></tr>
              </tbody>
            </table>
            <h2>Usage</h2>
            <p>\(periods)</p>
            \(chart.svg())
            <p class="legend"><span class="swatch swatch-valid"></span> valid <span class="swatch swatch-refused"></span> refused
              · latency of its calls on Tronch's API: \(quantiles)</p>
            \(chart.table())
            \(active ? editForm(record, csrf: csrf) + rotateForm(id, csrf: csrf) : "")
            """
    }

    static func editForm(_ record: KeyRecord, csrf: String) -> String {
        let settings = record.settings
        let limits = settings.ratelimits.map { "\($0.name):\($0.limit)/\($0.periodSeconds)" }.joined(separator: " ")
        let expiry = settings.expiresAt.map { String(Timestamp.format($0).prefix(10)) } ?? ""
        return """
            <h2>Edit</h2>
            <form method="post" action="/console/keys/\(record.id.lowercased)/edit">
              \(HTML.csrfField(csrf))
              <label for="edit-name">Name</label>
              <input id="edit-name" name="name" maxlength="256" value="\(HTML.escape(settings.name ?? ""))">
              <label for="edit-scopes">Scopes <span class="hint">(separated by spaces)</span></label>
              <input id="edit-scopes" name="scopes" value="\(HTML.escape(settings.scopes.joined(separator: " ")))">
              <label for="edit-expires">Expires on <span class="hint">(empty: never)</span></label>
              <input id="edit-expires" name="expires_on" type="date" value="\(HTML.escape(expiry))">
              <label for="edit-ratelimits">Rate limits <span class="hint">(name:limit/seconds, such as api:100/60; empty: the default)</span></label>
              <input id="edit-ratelimits" name="ratelimits" value="\(HTML.escape(limits))">
              <label for="edit-ips">Allowed addresses <span class="hint">(IPv4 or IPv6 addresses or CIDR ranges; empty: any)</span></label>
              <input id="edit-ips" name="allowed_ips" value="\(HTML.escape(settings.allowedIPs.map(\.description).joined(separator: " ")))">
              <p><input id="edit-enabled" name="enabled" type="checkbox"\(settings.enabled ? " checked" : "")> <label for="edit-enabled" class="inline-label">Enabled</label></p>
              <p><button type="submit">Save</button></p>
            </form>
            """
    }

    static func rotateForm(_ id: String, csrf: String) -> String {
        """
        <h2>Rotate</h2>
        <p>A new secret replaces this one; the old secret can keep working for a grace period while its holder switches.</p>
        <form method="post" action="/console/keys/\(id)/rotate">
          \(HTML.csrfField(csrf))
          <label for="grace_minutes">Grace period (minutes)</label>
          <input id="grace_minutes" name="grace_minutes" inputmode="numeric" value="60">
          <p><button type="submit">Rotate the key</button> <a href="/console/keys/\(id)/revoke">Revoke it instead</a></p>
        </form>
        """
    }

    static func audit(_ entries: [AuditEntry], next: Int64?, filters: (action: String?, actor: String?, target: String?), everyone: Bool) -> String {
        let rows = entries.map { entry in
            let event = entry.event
            let actor = event.actor.kind.rawValue + (event.actor.id.map { ":" + $0 } ?? "")
            let target = event.targetType.map { $0 + (event.targetID.map { ":" + $0 } ?? "") } ?? "—"
            return """
                <tr><td>\(entry.sequence)</td><td>\(HTML.escape(Timestamp.format(event.time)))</td><td><code>\(HTML.escape(event.action))</code></td>\
                <td>\(HTML.escape(actor))</td><td>\(HTML.escape(target))</td><td>\(event.outcome.rawValue)</td></tr>
                """
        }.joined(separator: "\n")
        func value(_ text: String?) -> String { HTML.escape(text ?? "") }
        var older = ""
        if let next {
            var query = ["before=\(next)"]
            if let action = filters.action { query.append("action=" + (action.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")) }
            if everyone, let actor = filters.actor {
                query.append("actor_id=" + (actor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
            }
            if let target = filters.target {
                query.append("target_id=" + (target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
            }
            older = #"<p><a href="/console/audit?\#(HTML.escape(query.joined(separator: "&")))">Older entries</a></p>"#
        }
        return """
            <h1>Audit log</h1>
            <p class="hint">\(everyone ? "Every entry, newest first." : "Your own actions, newest first.")</p>
            <form method="get" action="/console/audit" class="filters">
              <label for="action">Action</label><input id="action" name="action" value="\(value(filters.action))" placeholder="key.created">
              \(everyone ? #"<label for="actor_id">Actor id</label><input id="actor_id" name="actor_id" value="\#(value(filters.actor))">"# : "")
              <label for="target_id">Target id</label><input id="target_id" name="target_id" value="\(value(filters.target))">
              <p><button type="submit">Filter</button> <a href="/console/audit">Clear</a></p>
            </form>
            <table>
              <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Action</th><th scope="col">Actor</th><th scope="col">Target</th><th scope="col">Outcome</th></tr></thead>
              <tbody>
            \(rows.isEmpty ? #"<tr><td colspan="6" class="hint">No entries.</td></tr>"# : rows)
              </tbody>
            </table>
            \(older)
            """
    }

    static func sessions(_ sessions: [SessionRecord], current: UUID?, csrf: String) -> String {
        let rows = sessions.map { session in
            """
            <tr><td>\(HTML.escape(Timestamp.format(session.createdAt)))\(session.id == current ? " <strong>(this one)</strong>" : "")</td>\
            <td>\(HTML.escape(Timestamp.format(session.lastSeenAt)))</td><td>\(HTML.escape(session.ip ?? "—"))</td>\
            <td>\(HTML.escape(session.userAgent ?? "—"))</td><td>\(HTML.escape(session.amr.joined(separator: " ")))</td></tr>
            """
        }.joined(separator: "\n")
        return """
            <h1>Sessions</h1>
            <p class="hint">Where you are signed in: this browser, other browsers, and programs that logged in as you.</p>
            <table>
              <thead><tr><th scope="col">Started</th><th scope="col">Last seen</th><th scope="col">Address</th><th scope="col">Browser or program</th><th scope="col">Factors</th></tr></thead>
              <tbody>
            \(rows)
              </tbody>
            </table>
            <form method="post" action="/console/sessions/end-all">
              \(HTML.csrfField(csrf))
              <button type="submit" class="danger">Sign out everywhere</button>
            </form>
            """
    }

    static func confirmRevoke(_ record: KeyRecord, csrf: String) -> String {
        """
        <h1>Revoke a key</h1>
        <p>Revoke <strong>\(HTML.escape(record.settings.name ?? "this key"))</strong> (<code>\(HTML.escape(record.start))…\(HTML.escape(record.end))</code>)?
        Every request that sends it will be refused at once. This cannot be undone.</p>
        <form method="post" action="/console/keys/\(record.id.lowercased)/revoke">
          \(HTML.csrfField(csrf))
          <button type="submit" class="danger">Revoke the key</button>
          <a href="/console/keys">Cancel</a>
        </form>
        """
    }

    static func users(_ people: [UserRecord], now: Date, csrf: String, error: String?) -> String {
        let rows = people.map { user in
            let locked = user.lockout.isLocked(at: now) ? " (locked)" : ""
            return "<tr><td>\(HTML.escape(user.username))</td><td>\(HTML.escape(user.email.value))</td><td>\(user.role.rawValue)</td>"
                + "<td>\(user.status.rawValue)\(locked)</td><td>\(user.mfaEnabled ? "yes" : "no")</td>"
                + "<td>\(user.lastLoginAt.map { HTML.escape(Timestamp.format($0)) } ?? "never")</td></tr>"
        }.joined(separator: "\n")
        return """
            <h1>People</h1>
            \(alert(error))
            <table>
              <thead><tr><th scope="col">Username</th><th scope="col">E-mail</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Second factor</th><th scope="col">Last sign-in</th></tr></thead>
              <tbody>
            \(rows)
              </tbody>
            </table>
            <h2>Add a person</h2>
            <form method="post" action="/console/users">
              \(HTML.csrfField(csrf))
              <label for="username">Username</label><input id="username" name="username" required>
              <label for="email">E-mail address</label><input id="email" name="email" type="email" required>
              <label for="role">Role</label>
              <select id="role" name="role"><option value="member">member</option><option value="viewer">viewer</option></select>
              <label for="password">First password <span class="hint">(empty: none yet; 12 characters or more)</span></label>
              <input id="password" name="password" type="password" autocomplete="new-password">
              <p><button type="submit">Add</button></p>
            </form>
            """
    }

    static func groups(_ groups: [GroupRecord], csrf: String, error: String?) -> String {
        let rows = groups.map { group in
            "<tr><td><a href=\"/console/groups/\(group.id.lowercased)\">\(HTML.escape(group.name))</a></td>"
                + "<td>\(HTML.escape(group.description ?? ""))</td><td>\(group.mfaRequired ? "yes" : "no")</td></tr>"
        }.joined(separator: "\n")
        return """
            <h1>Groups</h1>
            \(alert(error))
            <table>
              <thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Requires a second factor</th></tr></thead>
              <tbody>
            \(rows.isEmpty ? #"<tr><td colspan="3" class="hint">No groups yet.</td></tr>"# : rows)
              </tbody>
            </table>
            <h2>Create a group</h2>
            <form method="post" action="/console/groups">
              \(HTML.csrfField(csrf))
              <label for="name">Name</label><input id="name" name="name" required>
              <label for="description">Description</label><input id="description" name="description">
              <p><input id="mfa_required" name="mfa_required" type="checkbox"> <label for="mfa_required" class="inline-label">Members must use a second factor</label></p>
              <p><button type="submit">Create</button></p>
            </form>
            """
    }

    static func group(_ group: GroupRecord, members: [(PrincipalReference, String?)], csrf: String, error: String?) -> String {
        let id = group.id.lowercased
        let rows = members.map { member, name in
            """
            <tr><td>\(HTML.escape(name ?? member.description))</td><td><code>\(HTML.escape(member.description))</code></td><td>\
            <form method="post" action="/console/groups/\(id)/members/remove" class="inline">\(HTML.csrfField(csrf))\
            <input type="hidden" name="member" value="\(HTML.escape(member.description))">\
            <button type="submit" class="secondary" aria-label="Remove \(HTML.escape(name ?? member.description))">Remove</button></form></td></tr>
            """
        }.joined(separator: "\n")
        return """
            <h1>Group \(HTML.escape(group.name))</h1>
            \(alert(error))
            <p>\(HTML.escape(group.description ?? ""))\(group.mfaRequired ? " Members must use a second factor." : "")</p>
            <table>
              <thead><tr><th scope="col">Member</th><th scope="col">Principal</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
              <tbody>
            \(rows.isEmpty ? #"<tr><td colspan="3" class="hint">No members yet.</td></tr>"# : rows)
              </tbody>
            </table>
            <h2>Add a member</h2>
            <form method="post" action="/console/groups/\(id)/members">
              \(HTML.csrfField(csrf))
              <label for="member">A person's username, or a group's name</label><input id="member" name="member" required>
              <p><button type="submit">Add</button></p>
            </form>
            <p><a href="/console/groups">All groups</a></p>
            """
    }

    static func acl(_ entries: [ACLEntry], resource: String?, csrf: String, error: String?) -> String {
        let rows = entries.map { entry in
            """
            <tr><td><code>\(HTML.escape(entry.resource.description))</code></td><td><code>\(HTML.escape(entry.principal.description))</code></td>\
            <td>\(HTML.escape(entry.action))</td><td>\(entry.effect.rawValue)</td><td>\(entry.kind.rawValue)</td><td>\
            <form method="post" action="/console/acl/\(entry.id.lowercased)/delete" class="inline">\(HTML.csrfField(csrf))\
            <button type="submit" class="secondary" aria-label="Delete the entry on \(HTML.escape(entry.resource.description))">Delete</button></form></td></tr>
            """
        }.joined(separator: "\n")
        return """
            <h1>Access control</h1>
            \(alert(error))
            <form method="get" action="/console/acl" class="filters">
              <label for="filter-resource">Entries on the resource</label>
              <input id="filter-resource" name="resource" value="\(HTML.escape(resource ?? ""))" placeholder="project:acme/web">
              <p><button type="submit">Filter</button> <a href="/console/acl">Clear</a></p>
            </form>
            <table>
              <thead><tr><th scope="col">Resource</th><th scope="col">Principal</th><th scope="col">Action</th><th scope="col">Effect</th><th scope="col">Kind</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
              <tbody>
            \(rows.isEmpty ? #"<tr><td colspan="6" class="hint">No entries.</td></tr>"# : rows)
              </tbody>
            </table>
            <h2>Add an entry</h2>
            <form method="post" action="/console/acl">
              \(HTML.csrfField(csrf))
              <label for="resource">Resource <span class="hint">(type:segment/segment, such as project:acme/web)</span></label><input id="resource" name="resource" required>
              <label for="principal">Principal <span class="hint">(a username, or user:&lt;id&gt;, group:&lt;id&gt;, key:&lt;id&gt;)</span></label><input id="principal" name="principal" required>
              <label for="entry-action">Action <span class="hint">(such as read, or * for every action)</span></label><input id="entry-action" name="action" required>
              <label for="effect">Effect</label><select id="effect" name="effect"><option value="allow">allow</option><option value="deny">deny</option></select>
              <label for="kind">Kind</label><select id="kind" name="kind"><option value="acl">acl: this resource</option><option value="dacl">dacl: a default for everything below it</option></select>
              <p><button type="submit">Add</button></p>
            </form>
            """
    }

    static func enrolmentRequired(byRole: Bool) -> String {
        """
        <h1>Second factor required</h1>
        <p>Your \(byRole ? "role" : "group") must use a second factor. Enrol an authenticator app first
        (POST /api/v1/users/me/mfa/totp, then confirm it), then sign in again.</p>
        """
    }

    static let notFound = #"<h1>Not found</h1><p><a href="/console/keys">Back to the keys</a></p>"#

    static let csrfRefused = """
        <h1>Refused</h1>
        <p>This form was not sent from this console page (its CSRF token is missing or stale). Go back, reload the page and try again.</p>
        <p><a href="/console/login">Sign in</a></p>
        """

    static func alert(_ message: String?) -> String {
        message.map { #"<p class="error" role="alert">\#(HTML.escape($0))</p>"# } ?? ""
    }
}
