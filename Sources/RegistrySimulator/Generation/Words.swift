/// Word lists the generator builds names, descriptions and file contents from.
enum Words {
    static let adjectives = [
        "quick", "lazy", "tiny", "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly",
        "kind", "lively", "mighty", "nice", "proud", "silly", "witty", "zany", "bold", "crisp",
        "daring", "fair", "grand", "hidden", "icy", "jumpy", "keen", "loud", "mellow", "noble",
        "odd", "plain", "quiet", "rapid", "sharp", "swift", "tidy", "vivid", "wild", "young",
    ]
    static let nouns = [
        "fox", "parser", "router", "logger", "cache", "queue", "stream", "buffer", "client", "server",
        "widget", "button", "config", "loader", "bundle", "plugin", "helper", "utils", "core", "cli",
        "schema", "token", "socket", "worker", "table", "graph", "tree", "list", "map", "store",
        "theme", "icon", "color", "date", "time", "string", "number", "array", "object", "promise",
    ]
    static let scopes = ["acme", "types", "babel", "org", "corp", "labs", "dev", "tools", "ui", "infra"]
    static let people = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    static let licenses = ["MIT", "ISC", "Apache-2.0", "BSD-3-Clause", "MIT", "MIT", "ISC"]
}
