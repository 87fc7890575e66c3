/*
 * worker_plugin_abi.h — the only thing that crosses between the worker and a plugin.
 *
 * A plugin is a shared library exporting one C function, WP_ENTRY_SYMBOL, that returns a pointer to a
 * static descriptor. Only bytes, lengths, status codes and opaque handles cross: never Swift types, never
 * memory that one side frees for the other. docs/plugin-abi.md explains every rule; read it before writing a
 * plugin in C.
 *
 * Versioning: the major version is in the entry symbol's name and in the descriptor; the host refuses a
 * different major. Minor versions only add fields at the END of a struct, and every struct starts with its
 * size as its writer knew it, so either side can tell which fields the other has.
 *
 * Minor versions: 0, the first; 1 appended `step_fail` to wp_host_services.
 */
#ifndef WORKER_PLUGIN_ABI_H
#define WORKER_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "WKRPLUG1" read as a little-endian integer: the first field of every descriptor. */
static const uint64_t WP_MAGIC = 0x3147554C50524B57ULL;
static const uint16_t WP_ABI_MAJOR = 1;
static const uint16_t WP_ABI_MINOR = 1;
/* The entry point's name carries the major version: a host of another major finds no symbol. */
#define WP_ENTRY_SYMBOL "worker_plugin_entry_v1"
/* Toolchain fingerprint of a plugin that uses no Swift runtime (plain C): accepted by any host. */
#define WP_TOOLCHAIN_C "c"

/* Status codes of host services and of create/start. */
static const int32_t WP_OK = 0;
static const int32_t WP_ERROR = -1;        /* generic failure; the host logs why */
static const int32_t WP_NOT_HELD = -2;     /* the job is no longer this run's: stop working on it */
static const int32_t WP_INVALID = -3;      /* bad arguments (null pointer, unknown handler) */

/* How a job ended, given to the completion callback. */
static const int32_t WP_OUTCOME_COMPLETED = 0;
static const int32_t WP_OUTCOME_FAILED = 1;              /* retried while attempts remain */
static const int32_t WP_OUTCOME_FAILED_PERMANENTLY = 2;  /* goes dead at once */
static const int32_t WP_OUTCOME_CANCELLED = 3;           /* stopped after cancel(); the host decides what follows */

static const int32_t WP_LOG_DEBUG = 0;
static const int32_t WP_LOG_INFO = 1;
static const int32_t WP_LOG_WARNING = 2;
static const int32_t WP_LOG_ERROR = 3;

/* A job as the host owns it; valid from start() until the plugin calls the completion callback. */
typedef struct wp_job_handle wp_job_handle;

/*
 * What the host offers a plugin. Handed to create(); the table lives as long as the process. It only grows at
 * its end: read a function only when `size` covers it (offsetof(wp_host_services, field) < size).
 * Every service may block the calling thread (a checkpoint waits for its fsync): call them from a thread of
 * your own, not from a thread a runtime needs for other work.
 */
typedef struct wp_host_services {
    uint32_t size;
    uint32_t abi_minor;
    /* Saves the job's checkpoint, replacing the last one. Durable when it returns WP_OK. */
    int32_t (*checkpoint)(wp_job_handle *job, const uint8_t *data, size_t length);
    /* Begins step `name`. Returns 1 when an earlier attempt completed it: *result and *result_length then hold
     * its journaled result (host memory, valid until completion) and the step must not run again. Returns 0
     * when the step must run now (then call step_commit with its result), or a negative status. */
    int32_t (*step_begin)(wp_job_handle *job, const char *name, size_t name_length,
                          const uint8_t **result, size_t *result_length);
    /* Journals the result of step `name`. Durable when it returns WP_OK. */
    int32_t (*step_commit)(wp_job_handle *job, const char *name, size_t name_length,
                           const uint8_t *result, size_t result_length);
    /* Writes a line to the worker's log, tagged with the job. */
    void (*log)(wp_job_handle *job, int32_t level, const char *message, size_t length);
    /* Returns 1 when the worker has begun draining (stop soon), else 0. When draining, *deadline_unix_us is
     * the time (microseconds since the Unix epoch) at which unfinished jobs are cancelled. */
    int32_t (*drain_state)(wp_job_handle *job, int64_t *deadline_unix_us);
    /* Minor 1 (a host of minor 0 has no such field). Journals that the current attempt of step `name` failed with
     * `error` (UTF-8; the journal keeps its first 4096 bytes, cut at a character boundary). The step stays not
     * completed: the next attempt runs it again, and the error is shown until the step completes. Durable when it
     * returns WP_OK. */
    int32_t (*step_fail)(wp_job_handle *job, const char *name, size_t name_length,
                         const char *error, size_t error_length);
} wp_host_services;

/* A job handed to start(). It and every buffer it points to stay valid until completion is called. */
typedef struct wp_job {
    uint32_t size;
    uint32_t attempt;               /* 1 for the first attempt */
    int64_t id;
    const char *handler;            /* not NUL-terminated: use the length */
    size_t handler_length;
    const uint8_t *payload;         /* JSON text */
    size_t payload_length;
    const uint8_t *checkpoint;      /* the last checkpoint, or NULL */
    size_t checkpoint_length;
    wp_job_handle *handle;          /* pass to every host service */
} wp_job;

/* Called exactly once for every job start() accepted, from any thread. `message` (UTF-8, may be NULL) says
 * why a job failed; the host copies it before returning. */
typedef void (*wp_completion)(void *context, int32_t outcome, const char *message, size_t message_length);

typedef struct wp_descriptor {
    uint64_t magic;                 /* WP_MAGIC */
    uint32_t size;                  /* sizeof(wp_descriptor) as the plugin was compiled */
    uint16_t abi_major;             /* WP_ABI_MAJOR */
    uint16_t abi_minor;             /* WP_ABI_MINOR */
    const char *toolchain;          /* WP_TOOLCHAIN_C, or the Swift toolchain the plugin was built with */
    const char *name;               /* plugin name, NUL-terminated */
    const char *version;            /* plugin version, NUL-terminated */
    uint32_t handler_count;
    const char *const *handlers;    /* handler names this plugin provides, NUL-terminated */
    /* Creates an instance. On failure returns non-zero and writes a NUL-terminated reason into `error`. */
    int32_t (*create)(const wp_host_services *services, void **instance, char *error, size_t error_capacity);
    /* Starts a job and returns at once (WP_OK), storing in *run a handle for cancel() and free_run(); or returns
     * non-zero without ever calling completion. */
    int32_t (*start)(void *instance, const wp_job *job, wp_completion completion, void *context, void **run);
    /* Asks a started job to stop soon. Completion is still called exactly once. */
    void (*cancel)(void *instance, void *run);
    /* Frees a run handle; the host calls it after completion has been called. */
    void (*free_run)(void *instance, void *run);
} wp_descriptor;

/* The type of the entry point: `const wp_descriptor *worker_plugin_entry_v1(void);` */
typedef const wp_descriptor *(*wp_entry_function)(void);

#ifdef __cplusplus
}
#endif

#endif /* WORKER_PLUGIN_ABI_H */
