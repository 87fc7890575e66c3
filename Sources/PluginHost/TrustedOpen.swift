import Foundation

/// Opens a plugin file so that nobody but root and the worker's user can change which file it is, between the
/// checks and `dlopen` or ever after.
///
/// The path is walked from `/` one component at a time with `openat` and `O_NOFOLLOW`: each directory is checked
/// through the descriptor that is then used to open the next component, so swapping a directory (say with
/// `renameat2(RENAME_EXCHANGE)`) cannot make the walk pass through one that was not checked. A directory on the
/// way must be owned by root or the worker's user and not writable by group or others, unless it is sticky (like
/// `/tmp`): there only an entry's owner may rename or remove it, and every entry passed through is checked for its
/// owner. A symlink on the way is followed (its directory was checked, so it cannot be swapped); a symlink as the
/// plugin file itself only to a file in the same directory (`libfoo.so -> libfoo.so.1`).
enum TrustedOpen {
    /// Linux's `O_PATH` (Glibc's module does not export it): a descriptor that only locates a directory, so that
    /// walking needs search permission only, as a path lookup does.
    static let pathOnly: Int32 = 0o10000000

    /// The most symlinks one walk follows, as the kernel's own limit.
    static let symlinkLimit = 40

    /// Opens the plugin file `path` read-only and returns its descriptor, close-on-exec. Throws a `PluginError`
    /// naming what is wrong (`.missing` when something on the path does not exist).
    static func file(_ path: String) throws -> Int32 {
        func refuse(_ reason: String, _ kind: PluginError.Kind = .refused) -> PluginError {
            PluginError(path: path, reason: reason, kind: kind)
        }
        guard !path.isEmpty else { throw refuse("the path is empty: name a plugin file", .missing) }
        var pending = Self.components(path)
        var shown = ""  // the directory reached so far, as a path, for messages
        var directory: Int32
        if path.hasPrefix("/") {
            directory = try openRoot(path)
        } else {
            guard let cwd = getcwd(nil, 0) else { throw refuse("cannot read the current directory: \(Self.error())") }
            pending = Self.components(String(cString: cwd)) + pending
            free(cwd)
            directory = try openRoot(path)
        }
        defer { close(directory) }
        var links = 0
        var followedFileLink = false
        while let name = pending.first {
            pending.removeFirst()
            if name == "." { continue }
            let here = shown.isEmpty ? "/" : shown
            let next = name == ".." ? (shown as NSString).deletingLastPathComponent : shown + "/" + name
            let last = pending.isEmpty
            var entry = stat()
            guard fstatat(directory, name, &entry, AT_SYMLINK_NOFOLLOW) == 0 else {
                let missing = errno == ENOENT
                throw refuse(
                    missing ? "\(next.isEmpty ? "/" : next) does not exist: check the path" : "cannot read \(next): \(Self.error())",
                    missing ? .missing : .refused)
            }
            if entry.st_mode & S_IFMT == S_IFLNK {
                try checkOwner(entry, what: "the symlink \(next)", path: path)
                let target = try readLink(directory, name, shown: next, path: path)
                if last {
                    // Only to a file of the same directory, named plainly or by that directory's path.
                    let targetDirectory = (target as NSString).deletingLastPathComponent
                    let targetName = (target as NSString).lastPathComponent
                    guard !followedFileLink, targetDirectory.isEmpty || targetDirectory == here,
                          !["", ".", ".."].contains(targetName) else {
                        throw refuse("it is a symlink to \(target), outside \(here): copy the plugin into the directory instead")
                    }
                    followedFileLink = true
                    pending = [targetName]
                    continue
                }
                links += 1
                guard links <= symlinkLimit else { throw refuse("more than \(symlinkLimit) symlinks on its path: \(next) loops") }
                pending = Self.components(target) + pending
                if target.hasPrefix("/") {
                    close(directory)
                    directory = try openRoot(path)
                    shown = ""
                }
                continue
            }
            if last {
                let file = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
                guard file >= 0 else { throw refuse("cannot open it: \(Self.error())") }
                do {
                    var info = stat()
                    guard fstat(file, &info) == 0 else { throw refuse("cannot read it: \(Self.error())") }
                    guard info.st_mode & S_IFMT == S_IFREG else { throw refuse("it is not a regular file") }
                    try checkOwner(info, what: "the file", path: path)
                    try checkNotWritable(info, what: "the file", sticky: false, path: path)
                } catch {
                    close(file)
                    throw error
                }
                return file
            }
            let child = openat(directory, name, pathOnly | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else {
                let notDirectory = errno == ENOTDIR
                throw refuse(notDirectory ? "\(next) is not a directory: check the path" : "cannot open \(next): \(Self.error())",
                             notDirectory ? .missing : .refused)
            }
            close(directory)
            directory = child
            shown = next
            try checkDirectory(directory, shown: shown.isEmpty ? "/" : shown, path: path)
        }
        throw refuse("it names a directory, not a plugin file", .refused)
    }

    /// The non-empty components of a path.
    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    private static func openRoot(_ path: String) throws -> Int32 {
        let root = open("/", pathOnly | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw PluginError(path: path, reason: "cannot open /: \(error())") }
        do {
            try checkDirectory(root, shown: "/", path: path)
        } catch {
            close(root)
            throw error
        }
        return root
    }

    private static func readLink(_ directory: Int32, _ name: String, shown: String, path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(directory, name, &buffer, buffer.count - 1)
        guard count > 0 else { throw PluginError(path: path, reason: "cannot read the symlink \(shown): \(error())") }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func checkDirectory(_ descriptor: Int32, shown: String, path: String) throws {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw PluginError(path: path, reason: "cannot read its directory \(shown): \(error())")
        }
        try checkOwner(info, what: "its directory \(shown)", path: path)
        try checkNotWritable(info, what: "its directory \(shown)", sticky: info.st_mode & S_ISVTX != 0, path: path)
    }

    /// Root or the worker's user: anyone else who owns a file or directory on the path can swap the code loaded.
    static func checkOwner(_ info: stat, what: String, path: String) throws {
        let owner = info.st_uid
        guard owner == 0 || owner == geteuid() else {
            throw PluginError(
                path: path,
                reason: "\(what) is owned by uid \(owner), neither root nor the worker's user (uid \(geteuid())): whoever owns it can swap the plugin for other code; chown it")
        }
    }

    /// Not writable by group or others, except a sticky directory (only an entry's owner may rename it there).
    static func checkNotWritable(_ info: stat, what: String, sticky: Bool, path: String) throws {
        let writable = info.st_mode & (S_IWGRP | S_IWOTH)
        guard writable == 0 || sticky else {
            let who = info.st_mode & S_IWOTH != 0 ? "world" : "group"
            throw PluginError(
                path: path,
                reason: "\(what) is \(who)-writable (mode \(String(info.st_mode & 0o7777, radix: 8))): anyone could replace the code it runs; chmod go-w it")
        }
    }

    private static func error() -> String { String(cString: strerror(errno)) }
}
