import Foundation

/// Validates a file's ELF structure before `dlopen`: the loader maps segments straight from the file, and a
/// truncated library makes it fault (SIGBUS) instead of returning an error. Checks that the file is a 64-bit
/// little-endian shared object for this machine and that every program and section header, and every segment's
/// bytes, lie inside the file.
enum ELFCheck {
    static func problem(in data: Data) -> String? {
        guard data.count >= 64, data.prefix(4) == Data([0x7F, 0x45, 0x4C, 0x46]) else {
            return "it is not a shared library (no ELF header): build it as a .dynamic library product"
        }
        func u16(_ offset: Int) -> Int { Int(data[offset]) | Int(data[offset + 1]) << 8 }
        func u32(_ offset: Int) -> Int { u16(offset) | u16(offset + 2) << 16 }
        func u64(_ offset: Int) -> UInt64 { UInt64(u32(offset)) | UInt64(u32(offset + 4)) << 32 }
        guard data[4] == 2, data[5] == 1 else { return "it is not a 64-bit little-endian ELF file" }
        guard u16(16) == 3 else { return "it is an ELF file but not a shared object (type \(u16(16)))" }
        #if arch(x86_64)
        let machine = 62
        #elseif arch(arm64)
        let machine = 183
        #else
        let machine = u16(18)
        #endif
        guard u16(18) == machine else { return "it is built for another machine (ELF machine \(u16(18)), this one is \(machine))" }
        let size = UInt64(data.count)
        let phoff = u64(32), phentsize = UInt64(u16(54)), phnum = UInt64(u16(56))
        let shoff = u64(40), shentsize = UInt64(u16(58)), shnum = UInt64(u16(60))
        guard phentsize >= 56, phoff <= size, phnum * phentsize <= size - phoff else {
            return "its program headers lie outside the file (\(size) bytes): the file is truncated or damaged"
        }
        if shnum > 0 {
            guard shoff <= size, shnum * shentsize <= size - shoff else {
                return "its section headers lie outside the file (\(size) bytes): the file is truncated or damaged"
            }
        }
        for index in 0..<Int(phnum) {
            let header = Int(phoff) + index * Int(phentsize)
            let offset = u64(header + 8), fileSize = u64(header + 32)
            guard offset <= size, fileSize <= size - offset else {
                return "segment \(index + 1) ends past the end of the file (\(size) bytes): the file is truncated or damaged"
            }
        }
        return nil
    }
}
