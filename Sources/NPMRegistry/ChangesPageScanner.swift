import MirrorJSON

/// Reads `_changes` pages, taking only what the producer needs (`seq`, `id`, the first
/// `changes[].rev`, `deleted`, `last_seq`) and stepping over everything else without building it.
///
/// Pages hold up to 10,000 results; decoding them into a general JSON tree (or through `Codable`)
/// cost the producer more than everything else it does.
enum ChangesPageScanner {
    /// The page's results (changes, or why one was set aside) and its `last_seq`.
    static func scan(_ bytes: UnsafeRawBufferPointer) throws(JSONScanner.Failure) -> (results: [ChangesPage.Entry], lastSeq: Int64?) {
        var scanner = JSONScanner(bytes)
        var results: [ChangesPage.Entry]?
        var lastSeq: Int64?
        try scanner.readDocument { scanner throws(JSONScanner.Failure) in
            try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                switch key {
                case "results":
                    guard scanner.peek() == UInt8(ascii: "[") else { throw JSONScanner.Failure(message: "no \"results\" array") }
                    results = try scanner.readResults()
                case "last_seq":
                    lastSeq = try scanner.readSeq()
                default:
                    try scanner.skipValue()
                }
            }
        }
        guard let results else { throw JSONScanner.Failure(message: "no \"results\" array") }
        return (results, lastSeq)
    }
}

extension JSONScanner {
    // MARK: Results

    fileprivate mutating func readResults() throws(JSONScanner.Failure) -> [ChangesPage.Entry] {
        var results: [ChangesPage.Entry] = []
        results.reserveCapacity(1024)
        try readArray { scanner throws(JSONScanner.Failure) in
            results.append(try scanner.readResult())
        }
        return results
    }

    fileprivate mutating func readResult() throws(JSONScanner.Failure) -> ChangesPage.Entry {
        guard peek() == UInt8(ascii: "{") else {
            let start = index
            try skipValue()
            return .skipped(SkippedFeedResult(reason: "not_an_object", excerpt: excerpt(from: start)))
        }
        let start = index
        var seq: Int64?
        var id: String?
        var rev: String?
        var deleted = false
        try readObject { scanner, key throws(JSONScanner.Failure) in
            switch key {
            case "seq": seq = try scanner.readSeq()
            case "id": id = try scanner.readStringIfString()
            case "deleted": deleted = try scanner.readTrueIfBoolean()
            case "changes": rev = try scanner.readFirstRev()
            default: try scanner.skipValue()
            }
        }
        guard let id, !id.isEmpty else { return .skipped(SkippedFeedResult(reason: "missing_id", excerpt: excerpt(from: start))) }
        guard let seq else { return .skipped(SkippedFeedResult(reason: "missing_seq", excerpt: excerpt(from: start))) }
        return .change(FeedChange(seq: seq, id: id, rev: rev, deleted: deleted))
    }

    /// `changes[0].rev`, or nil when `changes` is not an array of objects with a string `rev`.
    fileprivate mutating func readFirstRev() throws(JSONScanner.Failure) -> String? {
        guard peek() == UInt8(ascii: "[") else {
            try skipValue()
            return nil
        }
        var rev: String?
        var first = true
        try readArray { scanner throws(JSONScanner.Failure) in
            guard first, scanner.peek() == UInt8(ascii: "{") else {
                try scanner.skipValue()
                return
            }
            first = false
            try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                if key == "rev" { rev = try scanner.readStringIfString() } else { try scanner.skipValue() }
            }
        }
        return rev
    }

    /// A seq: a non-negative integer, or a string whose integer prefix is the seq (older feeds'
    /// `"123-g1AAA…"`); nil for anything else.
    mutating func readSeq() throws(JSONScanner.Failure) -> Int64? {
        switch peek() {
        case UInt8(ascii: "\""):
            return ChangesPage.Seq.value(ofText: try readString())
        case .some(UInt8(ascii: "0")...UInt8(ascii: "9")):
            let start = index
            var value: Int64 = 0
            var overflow = false
            while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                value = plus
                index += 1
            }
            if let byte = peek(), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                index = start
                try skipValue()
                return nil
            }
            return overflow ? nil : value
        default:
            try skipValue()
            return nil
        }
    }

}
