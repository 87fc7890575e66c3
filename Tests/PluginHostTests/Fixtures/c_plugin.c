/*
 * A plugin written in plain C against worker_plugin_abi.h, built by the tests with cc. Its handler `c-steps`
 * runs on a thread of its own: it checkpoints "started", runs the journaled step "only-once" (appending a line
 * to the file named by the payload's text when it runs), and completes; a payload containing "fail" fails it.
 *
 * Fixture variants (compile with -D):
 *   NO_ENTRY           exports no entry symbol
 *   WRONG_MAGIC        a descriptor with another magic
 *   ABI_MAJOR_PLUS_ONE entry named for major 2, descriptor saying major 2
 *   CREATE_FAILS       create() refuses, with a reason
 *   CREATE_CRASHES     create() aborts the process
 *   HANDLER=name       provide `name` instead of c-steps
 *   CHECK_HANDLES      never frees a run; counts a cancel or free_run of a run already freed, and exports that
 *                      count as c_fixture_misuse()
 *   FORKS              the handler forks without exec: the child writes its pid to the payload's file and sleeps
 *                      120 s; the job itself then hangs 120 s (a test kills the worker under it)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "worker_plugin_abi.h"

#ifndef HANDLER
#define HANDLER "c-steps"
#endif

static const wp_host_services *services;

struct run {
    wp_job job;
    uint8_t *payload;
    wp_completion completion;
    void *context;
    pthread_t thread;
    int freed;
};

#ifdef CHECK_HANDLES
static int misuse;
int c_fixture_misuse(void) { return __atomic_load_n(&misuse, __ATOMIC_SEQ_CST); }
#endif

static void *work(void *argument) {
    struct run *run = argument;
    wp_job *job = &run->job;
#ifdef FORKS
    {
        char path[4096] = {0};
        size_t length = job->payload_length > 2 ? job->payload_length - 2 : 0;
        if (length >= sizeof(path)) length = sizeof(path) - 1;
        memcpy(path, run->payload + 1, length);
        pid_t child = fork();
        if (child == 0) {
            FILE *file = fopen(path, "w");
            if (file) { fprintf(file, "%d\n", (int)getpid()); fclose(file); }
            sleep(120);
            _exit(0);
        }
        sleep(120);
    }
#endif
    const char *progress = "started";
    if (services->checkpoint(job->handle, (const uint8_t *)progress, strlen(progress)) != WP_OK) {
        run->completion(run->context, WP_OUTCOME_FAILED, "checkpoint refused", 18);
        return NULL;
    }
    const uint8_t *cached = NULL;
    size_t cached_length = 0;
    int32_t begun = services->step_begin(job->handle, "only-once", 9, &cached, &cached_length);
    if (begun == 0) {
        /* The payload is a JSON string naming a file: "\"/path\"". */
        char path[4096] = {0};
        size_t length = job->payload_length > 2 ? job->payload_length - 2 : 0;
        if (length >= sizeof(path)) length = sizeof(path) - 1;
        memcpy(path, run->payload + 1, length);
        FILE *file = fopen(path, "a");
        if (file) { fputs("step ran\n", file); fclose(file); }
        services->step_commit(job->handle, "only-once", 9, (const uint8_t *)"{\"value\":1}", 11);
    } else if (begun < 0) {
        run->completion(run->context, WP_OUTCOME_FAILED, "step refused", 12);
        return NULL;
    }
    services->log(job->handle, WP_LOG_INFO, "c plugin done", 13);
    if (memmem(run->payload, job->payload_length, "fail", 4)) {
        run->completion(run->context, WP_OUTCOME_FAILED, "asked to fail", 13);
    } else {
        run->completion(run->context, WP_OUTCOME_COMPLETED, NULL, 0);
    }
    return NULL;
}

static int32_t create(const wp_host_services *host, void **instance, char *error, size_t capacity) {
#ifdef CREATE_CRASHES
    abort();
#endif
#ifdef CREATE_FAILS
    snprintf(error, capacity, "no license key in the environment");
    return WP_ERROR;
#else
    (void)error; (void)capacity;
    services = host;
    *instance = NULL;
    return WP_OK;
#endif
}

static int32_t start(void *instance, const wp_job *job, wp_completion completion, void *context, void **out) {
    (void)instance;
    struct run *run = calloc(1, sizeof *run);
    run->job = *job;
    run->payload = malloc(job->payload_length + 1);
    memcpy(run->payload, job->payload, job->payload_length);
    run->payload[job->payload_length] = 0;
    run->completion = completion;
    run->context = context;
    *out = run;
    return pthread_create(&run->thread, NULL, work, run) == 0 ? WP_OK : WP_ERROR;
}

static void cancel(void *instance, void *argument) {
    (void)instance;
#ifdef CHECK_HANDLES
    struct run *run = argument;
    if (__atomic_load_n(&run->freed, __ATOMIC_SEQ_CST)) __atomic_add_fetch(&misuse, 1, __ATOMIC_SEQ_CST);
#else
    (void)argument;
#endif
}

static void free_run(void *instance, void *argument) {
    (void)instance;
    struct run *run = argument;
#ifdef CHECK_HANDLES
    if (__atomic_exchange_n(&run->freed, 1, __ATOMIC_SEQ_CST)) __atomic_add_fetch(&misuse, 1, __ATOMIC_SEQ_CST);
    else pthread_join(run->thread, NULL);
#else
    pthread_join(run->thread, NULL);
    free(run->payload);
    free(run);
#endif
}

static const char *const handlers[] = { HANDLER };

static const wp_descriptor descriptor = {
#ifdef WRONG_MAGIC
    .magic = 0x1234,
#else
    .magic = 0x3147554C50524B57ULL,
#endif
    .size = sizeof(wp_descriptor),
#ifdef ABI_MAJOR_PLUS_ONE
    .abi_major = 2,
#else
    .abi_major = 1,
#endif
    .abi_minor = 0,
    .toolchain = WP_TOOLCHAIN_C,
    .name = "c-fixture",
    .version = "0.1",
    .handler_count = 1,
    .handlers = handlers,
    .create = create,
    .start = start,
    .cancel = cancel,
    .free_run = free_run,
};

#if defined(ABI_MAJOR_PLUS_ONE)
const wp_descriptor *worker_plugin_entry_v2(void) { return &descriptor; }
#elif !defined(NO_ENTRY)
const wp_descriptor *worker_plugin_entry_v1(void) { return &descriptor; }
#endif
