import Mustache

/// Renders the pages: a body template per page inside one layout, with swift-mustache (every `{{…}}`
/// escapes `& < > " '`; the only triple mustaches insert what this module made: the body and the
/// sanitized README).
public enum WebPages {
    /// The page's `Content-Security-Policy`: nothing but this mirror's own stylesheet and images,
    /// no script at all, no frames, forms only to the mirror.
    public static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    public static func render(_ page: HomePage) -> String {
        layout(title: "npm-mirror", query: "", body: library.render(page, withTemplate: "home"))
    }

    public static func render(_ page: SearchPage) -> String {
        layout(title: "Search: \(page.query)", query: page.query, body: library.render(page, withTemplate: "search"))
    }

    public static func render(_ page: PackagePage) -> String {
        layout(title: page.name, query: "", body: library.render(page, withTemplate: "package"))
    }

    public static func render(_ page: VersionPage) -> String {
        layout(title: "\(page.name)@\(page.version)", query: "", body: library.render(page, withTemplate: "version"))
    }

    public static func render(_ page: MessagePage) -> String {
        layout(title: page.title, query: "", body: library.render(page, withTemplate: "message"))
    }

    private struct Layout {
        var title: String
        var query: String
        var body: String
        var root = WebLinks.root
        var search = WebLinks.search
        var stylesheet = WebLinks.stylesheet
    }

    private static func layout(title: String, query: String, body: String?) -> String {
        library.render(Layout(title: title, query: query, body: body ?? ""), withTemplate: "layout") ?? ""
    }

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in templates {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("the \(name) page template does not parse: \(error)")
            }
        }
        return library
    }()

    static let templates: [String: String] = [
        "layout": """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}} · npm-mirror</title>
            <link rel="stylesheet" href="{{stylesheet}}">
            </head>
            <body>
            <header>
            <a class="brand" href="{{root}}">npm-mirror</a>
            <form action="{{search}}" method="get" role="search">
            <input type="search" name="q" value="{{query}}" placeholder="Search packages by name or description" aria-label="Search packages">
            <button type="submit">Search</button>
            </form>
            </header>
            <main>
            {{{body}}}
            </main>
            <footer>A read-only mirror of the npm registry. Pages work without JavaScript.</footer>
            </body>
            </html>

            """,
        "home": """
            <h1>This mirror</h1>
            <dl class="figures">
            {{#figures}}<div><dt>{{label}}</dt><dd>{{value}}</dd></div>
            {{/figures}}
            </dl>
            <h2>Signature verdicts</h2>
            <p class="note">{{countedNote}}</p>
            <dl class="figures">
            {{#verdicts}}<div><dt>{{label}}</dt><dd>{{value}}</dd></div>
            {{/verdicts}}
            </dl>
            <h2>Install from this mirror</h2>
            <pre><code>npm config set registry {{registryURL}}</code></pre>

            """,
        "search": """
            <h1>Search</h1>
            {{#message}}<p class="note">{{.}}</p>{{/message}}
            {{^message}}<p class="note">{{total}} packages match “{{query}}”.</p>{{/message}}
            <ol class="results">
            {{#results}}<li><a href="{{href}}">{{name}}</a>{{#version}} <span class="version">{{.}}</span>{{/version}}{{#description}}<p>{{.}}</p>{{/description}}</li>
            {{/results}}
            </ol>

            """,
        "package": """
            <h1 class="package-name">{{name}}</h1>
            {{#description}}<p class="description">{{.}}</p>{{/description}}
            {{#state}}<p class="state">{{.}}</p>{{/state}}
            <pre class="install"><code>{{installCommand}}</code></pre>
            <dl class="facts">
            {{#latest}}<div><dt>latest</dt><dd>{{.}}</dd></div>{{/latest}}
            {{#license}}<div><dt>license</dt><dd>{{.}}</dd></div>{{/license}}
            {{#maintainers}}<div><dt>maintainers</dt><dd>{{.}}</dd></div>{{/maintainers}}
            {{#homepage}}<div><dt>homepage</dt><dd><a rel="nofollow noopener" href="{{.}}">{{.}}</a></dd></div>{{/homepage}}
            {{#repository}}<div><dt>repository</dt><dd><a rel="nofollow noopener" href="{{.}}">{{.}}</a></dd></div>{{/repository}}
            </dl>
            {{^empty(distTags)}}<h2>Dist-tags</h2>
            <ul class="tags">{{#distTags}}<li><span class="tag">{{text}}</span> <a href="{{href}}">{{note}}</a></li>{{/distTags}}</ul>{{/empty(distTags)}}
            <h2>Versions</h2>
            <div class="table"><table class="versions">
            <thead><tr><th>version</th><th>published</th><th>held</th><th>size</th><th>signature</th><th>provenance</th></tr></thead>
            <tbody>
            {{#versions}}<tr class="{{#held}}held{{/held}}{{^held}}not-held{{/held}}">
            <td><a href="{{href}}">{{version}}</a>{{#tags}} <span class="tag">{{.}}</span>{{/tags}}{{#deprecated}}<br><span class="deprecated">deprecated: {{.}}</span>{{/deprecated}}</td>
            <td>{{#published}}{{.}}{{/published}}</td>
            <td>{{#held}}held{{/held}}{{^held}}not held{{#notHeldReason}}: {{.}}{{/notHeldReason}}{{/held}}</td>
            <td>{{#size}}{{.}}{{/size}}</td>
            <td class="verdict">{{#signature}}{{.}}{{/signature}}</td>
            <td class="verdict">{{#provenance}}{{.}}{{/provenance}}{{#repository}}<br>{{.}}{{/repository}}{{#workflow}}<br>{{.}}{{/workflow}}</td>
            </tr>
            {{/versions}}
            </tbody>
            </table></div>
            {{#olderVersions}}<p class="note">and {{.}} older versions, not listed here.</p>{{/olderVersions}}
            {{^empty(dependencies)}}<h2>Dependencies of the latest version</h2>
            <ul class="dependencies">{{#dependencies}}<li><a href="{{href}}">{{text}}</a> <span class="range">{{note}}</span></li>{{/dependencies}}</ul>{{/empty(dependencies)}}
            {{^empty(changes)}}<h2>Recent changes</h2>
            <div class="table"><table class="changes"><thead><tr><th>seq</th><th>outcome</th><th>processed</th></tr></thead><tbody>
            {{#changes}}<tr><td>{{seq}}</td><td>{{outcome}}</td><td>{{processedAt}}</td></tr>{{/changes}}
            </tbody></table></div>{{/empty(changes)}}
            {{#readmeHTML}}<h2>README</h2>
            <article class="readme">{{{.}}}</article>{{/readmeHTML}}
            {{#readmeTruncated}}<p class="note">The README is longer than this page shows.</p>{{/readmeTruncated}}

            """,
        "version": """
            <p><a href="{{packageHref}}">{{name}}</a></p>
            <h1 class="package-name">{{name}}@{{version}}</h1>
            {{#deprecated}}<p class="deprecated">deprecated: {{.}}</p>{{/deprecated}}
            <pre class="install"><code>{{installCommand}}</code></pre>
            <dl class="facts">
            {{#fields}}<div><dt>{{label}}</dt><dd>{{value}}</dd></div>
            {{/fields}}
            {{#tarballURL}}<div><dt>tarball</dt><dd><a href="{{.}}">{{.}}</a></dd></div>{{/tarballURL}}
            {{#attestationsURL}}<div><dt>attestations</dt><dd><a href="{{.}}">{{.}}</a></dd></div>{{/attestationsURL}}
            </dl>
            {{^empty(dependencies)}}<h2>Dependencies</h2>
            <ul class="dependencies">{{#dependencies}}<li><a href="{{href}}">{{text}}</a> <span class="range">{{note}}</span></li>{{/dependencies}}</ul>{{/empty(dependencies)}}

            """,
        "message": """
            <h1>{{title}}</h1>
            <p>{{message}}</p>

            """,
    ]
}
