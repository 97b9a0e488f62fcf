#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `malloc` the process runs on: the C library's, or one preloaded in its place (`LD_PRELOAD`). A node carrying
/// hundreds of sellers spends a quarter of its CPU less on jemalloc than on glibc's `malloc` (docs/operations.md), so
/// the node says which it has, in its start-up line and in `flexbridge_build_info`.
public enum MemoryAllocator: String, Sendable {
    case jemalloc
    case tcmalloc
    case mimalloc
    /// The C library's own.
    case system

    /// Found by the entry points only the replacements export, looked up in the process's global scope (where a
    /// preloaded library comes first).
    public static let current: MemoryAllocator = {
        guard let process = dlopen(nil, RTLD_NOW) else { return .system }
        defer { dlclose(process) }
        for (symbol, allocator) in [("mallctl", jemalloc), ("tc_malloc", tcmalloc), ("mi_malloc", mimalloc)]
        where dlsym(process, symbol) != nil {
            return allocator
        }
        return .system
    }()
}
