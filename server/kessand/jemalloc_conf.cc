// jemalloc's compiled-in options for kessand (MALLOC_CONF still overrides).
// A background thread returns freed pages to the kernel, so the madvise
// calls and their TLB shootdowns leave the commit path (tests/bench/README.md).
extern "C" {
// NOLINTNEXTLINE: the name jemalloc looks up.
const char* malloc_conf = "background_thread:true";
}
