/* kessan/plugin.h: the C ABI between kessand's plugin host and a scenario
 * plugin.
 *
 * A plugin is a shared library that exports one function,
 * kessan_plugin_entry(). The host (a kessan-plugin-worker process, never
 * kessand itself) calls it once after dlopen(), then calls the function
 * pointers the plugin filled in. Everything that crosses the boundary is
 * plain C: integers, byte buffers holding serialized kessan.v1 protobuf
 * messages (proto/kessan/v1/plugin.proto), and NUL-terminated strings.
 *
 * Versioning. The host passes its ABI version in kessan_host_info; the
 * plugin fills kessan_plugin with the version it was built for. The host
 * runs the plugin only when the majors are equal and the plugin's minor is
 * at most the host's; a minor release only appends fields at the end of
 * these structs, so each side reads struct_size before touching a field
 * added later. Everything else is a mismatch, reported with both versions.
 *
 * Ownership. Buffers and messages a plugin returns belong to the plugin:
 * the host copies them, then hands them back through free_result(). The
 * host owns every input buffer; a plugin must not keep pointers to it.
 *
 * Errors. Each call returns a KESSAN_STATUS_* code (the numbering of
 * google.rpc.Code, as absl::StatusCode) and may set a message. Nothing
 * may unwind out of a plugin: a C++ plugin catches every exception (the
 * SDK in kessan/plugin_sdk.h does).
 *
 * Threading. The host calls a plugin from one thread at a time.
 */
#ifndef KESSAN_PLUGIN_H_
#define KESSAN_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define KESSAN_PLUGIN_ABI_MAJOR 1
#define KESSAN_PLUGIN_ABI_MINOR 0

/* The one symbol a plugin exports. */
#define KESSAN_PLUGIN_ENTRY_SYMBOL "kessan_plugin_entry"

/* Status codes (google.rpc.Code). */
enum {
  KESSAN_STATUS_OK = 0,
  KESSAN_STATUS_INVALID_ARGUMENT = 3,
  KESSAN_STATUS_NOT_FOUND = 5,
  KESSAN_STATUS_RESOURCE_EXHAUSTED = 8,
  KESSAN_STATUS_FAILED_PRECONDITION = 9,
  KESSAN_STATUS_OUT_OF_RANGE = 11,
  KESSAN_STATUS_UNIMPLEMENTED = 12,
  KESSAN_STATUS_INTERNAL = 13
};

/* kessan_host_info: what the host tells the plugin. */
typedef struct kessan_host_info {
  uint32_t struct_size; /* sizeof(kessan_host_info) as the host built it */
  uint32_t abi_major;
  uint32_t abi_minor;
} kessan_host_info;

/* kessan_result: the output of one call, owned by the plugin until
 * free_result(). `data`/`size` hold a serialized message when the status is
 * KESSAN_STATUS_OK (a NULL `data` with a non-zero `size` is an error);
 * `message` (may be NULL) explains any other status; the host cuts it to
 * 1 KiB and blanks control characters. */
typedef struct kessan_result {
  uint8_t* data;
  size_t size;
  char* message;
} kessan_result;

/* kessan_plugin: filled in by kessan_plugin_entry(). The host zeroes it
 * first. */
typedef struct kessan_plugin {
  uint32_t struct_size; /* sizeof(kessan_plugin) as the plugin built it */
  uint32_t abi_major;   /* KESSAN_PLUGIN_ABI_MAJOR of the plugin's build */
  uint32_t abi_minor;
  /* Opaque plugin state passed back to every call. */
  void* state;
  /* Input: a kessan.v1.PluginDescribeRequest; output: a
   * kessan.v1.PluginDescribeResponse. */
  int32_t (*describe)(void* state, const uint8_t* input, size_t input_size, kessan_result* result);
  /* Input: a kessan.v1.PluginRunRequest; output: a
   * kessan.v1.PluginRunResponse. */
  int32_t (*run)(void* state, const uint8_t* input, size_t input_size, kessan_result* result);
  /* Releases what a describe() or run() put into `result`. */
  void (*free_result)(void* state, kessan_result* result);
  /* Releases `state`; called once, last. May be NULL. */
  void (*destroy)(void* state);
} kessan_plugin;

/* kessan_plugin_entry: fills `plugin` (abi_major and abi_minor at least,
 * even when it then fails). Returns a KESSAN_STATUS_* code. */
typedef int32_t (*kessan_plugin_entry_fn)(const kessan_host_info* host, kessan_plugin* plugin);

#if defined(__GNUC__)
#define KESSAN_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define KESSAN_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KESSAN_PLUGIN_H_ */
