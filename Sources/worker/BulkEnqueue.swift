import Foundation
import WorkerStore

/// `worker enqueue --payloads-from`: streams JSON lines into the journal, one transaction per batch.
struct BulkEnqueue {
    let journal: any JobStore
    let template: NewJob
    let batchSize: Int
    let json: Bool

    func run(source: String) async throws {
        let reader = try LineReader(source: source)
        var batch: [NewJob] = []
        var lineNumbers: [Int] = []
        var ids: [Int64] = []
        var committed = 0
        let progress = Progress()
        defer { progress.finish() }
        batch.reserveCapacity(batchSize)
        let sourceName = source == "-" ? "standard input" : source

        /// What a failure leaves enqueued: the batches committed before it.
        func kept() -> String {
            guard committed > 0, let first = lineNumbers.first else { return "nothing was enqueued" }
            return "the \(committed) jobs before line \(first) were enqueued, nothing from that line on"
        }

        func flushBatch() async throws {
            guard !batch.isEmpty else { return }
            do {
                let results = try await journal.enqueue(batch: batch)
                for result in results {
                    if json { ids.append(result.id) } else { Output.line(String(result.id)) }
                }
            } catch let error as JournalError {
                let line = error.batchIndex.map { lineNumbers[$0] }
                let place = line.map { "line \($0) of \(sourceName): " } ?? ""
                throw JournalError(error.code, "\(place)\(error.message); \(kept())")
            }
            committed += batch.count
            progress.update("enqueued \(committed) job(s)")
            batch.removeAll(keepingCapacity: true)
            lineNumbers.removeAll(keepingCapacity: true)
        }

        while let (number, line) = try reader.next() {
            if case .invalidUTF8(let problem) = line {
                if lineNumbers.isEmpty { lineNumbers.append(number) }  // for kept(): nothing from this line on
                throw CLIError(.dataError, "line \(number) of \(sourceName) is not valid UTF-8 (\(problem)): fix its encoding; \(kept())")
            }
            guard case .text(let line) = line else { continue }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            var job = template
            job.payload = trimmed
            batch.append(job)
            lineNumbers.append(number)
            if batch.count == batchSize { try await flushBatch() }
        }
        try await flushBatch()
        progress.update("enqueued \(committed) job(s)", force: true)
        if json {
            Output.line(JSON.object([("enqueued", .int(Int64(committed))), ("ids", .array(ids.map(JSON.int)))]).text)
        }
    }
}

/// Reads a file (or standard input for `-`) line by line without loading it whole.
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private let ownsFile: Bool
    private var number = 0
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0

    init(source: String) throws {
        if source == "-" {
            // A stream of its own on fd 0, rather than the global `stdin`, which strict concurrency rejects.
            guard let stream = fdopen(STDIN_FILENO, "r") else {
                throw CLIError(.noInput, "cannot read payloads from standard input: \(String(cString: strerror(errno)))")
            }
            file = stream
            ownsFile = false
        } else {
            guard let opened = fopen(source, "r") else {
                let reason = String(cString: strerror(errno))
                throw CLIError(.noInput, "cannot read payloads file \(source): \(reason); check the path")
            }
            file = opened
            ownsFile = true
        }
    }

    deinit {
        free(buffer)
        if ownsFile { fclose(file) }
    }

    /// A line read: its text, or what makes it not UTF-8.
    enum Line {
        case text(String)
        case invalidUTF8(String)
    }

    /// The next line (1-based number, text without its line break), or nil at the end.
    func next() throws -> (Int, Line)? {
        let length = getline(&buffer, &capacity, file)
        guard length >= 0, let buffer else {
            if ferror(file) != 0 { throw CLIError(.ioError, "error reading payloads: \(String(cString: strerror(errno)))") }
            return nil
        }
        number += 1
        var count = length
        while count > 0 && (buffer[count - 1] == 0x0A || buffer[count - 1] == 0x0D) { count -= 1 }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: count) {
            let bytes = UnsafeBufferPointer(start: $0, count: count)
            // The standard library's validating decode is the fast path; the offset is looked for only on failure.
            if let text = String(validating: bytes, as: UTF8.self) { return (number, .text(text)) }
            return (number, .invalidUTF8(UTF8Check.problem(in: bytes) ?? "invalid bytes"))
        }
    }
}
