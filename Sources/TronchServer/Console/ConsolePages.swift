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
                ? "" : #"<a href="/console/keys/\#(record.id.lowercased)/revoke" aria-label="Revoke \#(HTML.escape(record.settings.name ?? record.start))">Revoke</a>"#
            return """
                    <tr>
                      <td>\(HTML.escape(record.settings.name ?? "—"))</td>
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

    static func created(_ record: KeyRecord, secret: String) -> String {
        """
        <h1>Key created</h1>
        <p>This is the only time the secret is shown: copy it now and give it to the key's holder. Tronch keeps only a hash of it.</p>
        <p id="secret" class="secret">\(HTML.escape(secret))</p>
        <p><button type="button" data-copy="secret" hidden>Copy the secret</button></p>
        <p>Name: \(HTML.escape(record.settings.name ?? "—")) · id <code>\(record.id.lowercased)</code></p>
        <p><a href="/console/keys">Back to the keys</a></p>
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
