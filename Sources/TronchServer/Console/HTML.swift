/// Server-rendered HTML for the console: text goes in escaped, so nothing a user typed (a key's name, a
/// username) can become markup, and pages carry no inline script or style (the console's CSP forbids both).
enum HTML {
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// The hidden field every form carries: the request is refused unless it matches the CSRF cookie.
    static func csrfField(_ token: String) -> String {
        #"<input type="hidden" name="csrf" value="\#(escape(token))">"#
    }

    /// A whole page: the layout, the navigation for a signed-in person, and `main`.
    static func page(title: String, signedIn: ConsolePerson?, csrf: String, main: String) -> String {
        let navigation =
            signedIn.map { person in
                """
                <nav aria-label="Console">
                  <a href="/console/keys">Keys</a>
                  <a href="/console/audit">Audit log</a>
                  <a href="/console/sessions">Sessions</a>
                  \(person.role == "admin" ? #"<a href="/console/users">People</a> <a href="/console/groups">Groups</a> <a href="/console/acl">Access control</a>"# : "")
                  <span class="who">\(escape(person.username)) (\(escape(person.role)))</span>
                  <form method="post" action="/console/logout" class="inline">\(csrfField(csrf))<button type="submit">Sign out</button></form>
                </nav>
                """
            } ?? ""
        return """
            <!doctype html>
            <html lang="en">
            <head>
              <meta charset="utf-8">
              <meta name="viewport" content="width=device-width, initial-scale=1">
              <title>\(escape(title)) · Tronch</title>
              <link rel="stylesheet" href="/console/assets/console.css">
              <script src="/console/assets/console.js" defer></script>
            </head>
            <body>
              <header><a class="brand" href="/console">Tronch</a>\(navigation)</header>
              <main id="main">
            \(main)
              </main>
            </body>
            </html>
            """
    }
}

/// The person signed in to the console.
struct ConsolePerson: Sendable {
    var username: String
    var role: String
}
