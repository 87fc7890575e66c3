import WorkerStore

/// Handlers and payloads every store refuses, with the code it refuses each with: the stores' enqueue tests take
/// their arguments from here, so that the stores refuse alike.
public let refusedEnqueueInput: [(String, String, JournalError.Code)] = [
    ("", "{}", .invalidArgument),
    ("has space", "{}", .invalidArgument),
    ("no\u{A0}break", "{}", .invalidArgument),
    ("noop\u{200B}", "{}", .invalidArgument),
    ("right\u{202E}left", "{}", .invalidArgument),
    ("line\u{2028}break", "{}", .invalidArgument),
    ("noop", "", .invalidPayload),
    ("noop", "{", .invalidPayload),
    ("noop", "{'single': 1}", .invalidPayload),
    ("noop", "nul", .invalidPayload),
    ("noop", "\"a\u{0}b\"", .invalidPayload),
]
