import MirrorJSON

/// Reads `_all_docs` pages in one pass: `total_rows` and each row's `id` and `value.rev`; `key`,
/// `offset` and anything else are stepped over without being built.
enum AllDocsPageScanner {
    static func scan(_ bytes: UnsafeRawBufferPointer) throws(JSONScanner.Failure) -> (rows: [AllDocsRow], totalRows: Int64?) {
        var scanner = JSONScanner(bytes)
        var rows: [AllDocsRow]?
        var totalRows: Int64?
        try scanner.readDocument { scanner throws(JSONScanner.Failure) in
            try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                switch key {
                case "rows":
                    guard scanner.peek() == UInt8(ascii: "[") else { throw JSONScanner.Failure(message: "no \"rows\" array") }
                    rows = try scanner.readAllDocsRows()
                case "total_rows":
                    totalRows = try scanner.readIntegerIfInteger()
                default:
                    try scanner.skipValue()
                }
            }
        }
        guard let rows else { throw JSONScanner.Failure(message: "no \"rows\" array") }
        return (rows, totalRows)
    }
}

extension JSONScanner {
    fileprivate mutating func readAllDocsRows() throws(JSONScanner.Failure) -> [AllDocsRow] {
        var rows: [AllDocsRow] = []
        try readArray { scanner throws(JSONScanner.Failure) in
            let start = scanner.index
            guard scanner.peek() == UInt8(ascii: "{") else {
                try scanner.skipValue()
                throw JSONScanner.Failure(message: "a row that is not an object: \(scanner.excerpt(from: start))")
            }
            var id: String?
            var rev: String?
            try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                switch key {
                case "id": id = try scanner.readStringIfString()
                case "value":
                    guard scanner.peek() == UInt8(ascii: "{") else {
                        try scanner.skipValue()
                        return
                    }
                    try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                        if key == "rev" { rev = try scanner.readStringIfString() } else { try scanner.skipValue() }
                    }
                default: try scanner.skipValue()
                }
            }
            guard let id, !id.isEmpty, let rev else {
                throw JSONScanner.Failure(message: "a row without a string id and value.rev: \(scanner.excerpt(from: start))")
            }
            rows.append(AllDocsRow(id: id, rev: rev))
        }
        return rows
    }
}
