import MirrorJSON
import NPMNames
import HTTPTypes

extension SimulatorResponder {
    /// `GET /registry/_all_docs`: every live document in id order (byte order; see `SortedNames`),
    /// `{"total_rows":N,"offset":K,"rows":[{"id","key","value":{"rev"}}]}`, with CouchDB's
    /// parameters (`AllDocsQuery`) and its 400s.
    func allDocs(_ query: Query) -> PlainResponse {
        let parsed: AllDocsQuery
        do {
            parsed = try AllDocsQuery(query)
        } catch {
            return .error(.badRequest, error.error, reason: error.reason)
        }
        let page = self.core.model.allDocs(parsed)
        var json = JSONWriter(capacity: 64 + page.rows.count * 96)
        json.object { json in
            json.field("total_rows", page.totalRows)
            json.field("offset", page.offset)
            json.arrayField("rows") { json in
                for row in page.rows {
                    json.object { json in
                        json.field("id", row.id)
                        json.field("key", row.id)
                        json.objectField("value") { $0.field("rev", row.rev) }
                    }
                }
            }
        }
        return .json(.ok, json.byteBuffer)
    }
}
