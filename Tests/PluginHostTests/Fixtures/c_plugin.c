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
 *   STEP_FAILS         while the file "<payload's file>.fail" exists, the step "only-once" fails: after writing
 *                      its line it calls step_fail (an error with a newline and an escape sequence) and fails the job
 *   FORKS              the handler forks without exec: the child writes its pid to the payload's file and sleeps
 *                      120 s; the job itself then hangs 120 s (a test kills the worker under it)
 *
 * Misbehaving plugins (issue 11, plugins: see the block "Misbehaviour" below):
 *   COMPLETE_TWICE       completes each job, then completes it again as failed and uses its handle afterwards
 *   COMPLETE_RACING      two threads complete each job at the same moment, then both use its handle
 *   CONSTRUCTOR_EXIT=n   its constructor calls exit(n)
 *   CONSTRUCTOR_ABORT    its constructor calls abort()
 *   CONSTRUCTOR_NULL     its constructor writes through a null pointer
 *   CONSTRUCTOR_MARKER=f its constructor creates the file f (proof that its code ran)
 *   CONSTRUCTOR_TERM     its constructor installs a SIGTERM handler of its own
 *   CREATE_TERM          create() sets SIGTERM to SIG_IGN
 *   CREATE_BLOCKS_TERM   create() blocks SIGTERM in the loading thread
 *   JOB_SIGNALS=n        each job, on its own thread, first meddles with SIGTERM (1: SIG_IGN, 2: blocks it in its
 *                        thread, 3: installs a handler and unblocks it in its thread), writes "meddled" to the
 *                        payload's file, then runs until cancelled
 */
#define _GNU_SOURCE  /* memmem */
#include <pthread.h>
#include <stddef.h>
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
    volatile int cancelled;
};

#ifdef CHECK_HANDLES
static int misuse;
int c_fixture_misuse(void) { return __atomic_load_n(&misuse, __ATOMIC_SEQ_CST); }
#endif

/* ---- Misbehaviour (issue 11, plugins) ---------------------------------------------------------------------- */
#include <signal.h>
#include <unistd.h>

#if defined(CONSTRUCTOR_EXIT) || defined(CONSTRUCTOR_ABORT) || defined(CONSTRUCTOR_NULL) || defined(CONSTRUCTOR_MARKER) \
    || defined(CONSTRUCTOR_TERM)
static void on_term(int signal_number) { (void)signal_number; }
static int *volatile nowhere;  /* NULL, and the compiler cannot know it: the write below really faults */
__attribute__((constructor)) static void misbehave_at_load(void) {
#ifdef CONSTRUCTOR_MARKER
    FILE *marker = fopen(CONSTRUCTOR_MARKER, "w");
    if (marker) { fputs("the constructor ran\n", marker); fclose(marker); }
#endif
#ifdef CONSTRUCTOR_EXIT
    exit(CONSTRUCTOR_EXIT);
#endif
#ifdef CONSTRUCTOR_ABORT
    abort();
#endif
#ifdef CONSTRUCTOR_NULL
    *nowhere = 1;
#endif
#ifdef CONSTRUCTOR_TERM
    signal(SIGTERM, on_term);
#endif
    (void)on_term;
}
#endif

#ifdef JOB_SIGNALS
static volatile sig_atomic_t term_seen;
static void job_on_term(int signal_number) { (void)signal_number; term_seen = 1; }

/* Meddles with SIGTERM as JOB_SIGNALS says, tells the test through the payload's file, and runs until cancelled. */
static void meddle_then_wait(struct run *run, const char *path, volatile int *cancelled) {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
#if JOB_SIGNALS == 1
    signal(SIGTERM, SIG_IGN);
#elif JOB_SIGNALS == 2
    pthread_sigmask(SIG_BLOCK, &term, NULL);
#else
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = job_on_term;
    sigaction(SIGTERM, &action, NULL);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
#endif
    FILE *file = fopen(path, "a");
    if (file) { fputs("meddled\n", file); fclose(file); }
    while (!__atomic_load_n(cancelled, __ATOMIC_SEQ_CST)) usleep(10000);
    run->completion(run->context, WP_OUTCOME_CANCELLED, NULL, 0);
}
#endif

#if defined(COMPLETE_TWICE) || defined(COMPLETE_RACING)
static volatile int racers_ready;

/* Completes the job, then uses its handle as if it were still valid. */
static void *complete_and_misuse(void *argument) {
    struct run *run = argument;
#ifdef COMPLETE_RACING
    __atomic_add_fetch(&racers_ready, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&racers_ready, __ATOMIC_SEQ_CST) % 2 != 0) {}
#endif
    wp_job_handle *handle = run->job.handle;
    run->completion(run->context, WP_OUTCOME_COMPLETED, NULL, 0);
    services->log(handle, WP_LOG_INFO, "after completion", 16);
    services->checkpoint(handle, (const uint8_t *)"late", 4);
    return NULL;
}

static void complete_twice(struct run *run) {
#ifdef COMPLETE_RACING
    pthread_t other;
    pthread_create(&other, NULL, complete_and_misuse, run);
    complete_and_misuse(run);
    pthread_join(other, NULL);
#else
    wp_job_handle *handle = run->job.handle;
    run->completion(run->context, WP_OUTCOME_COMPLETED, NULL, 0);
    run->completion(run->context, WP_OUTCOME_FAILED, "second completion", 17);
    services->log(handle, WP_LOG_INFO, "after completion", 16);
    services->checkpoint(handle, (const uint8_t *)"late", 4);
#endif
}
#endif
/* ---- end of Misbehaviour ------------------------------------------------------------------------------------ */

static void *work(void *argument) {
    struct run *run = argument;
    wp_job *job = &run->job;
#ifdef JOB_SIGNALS
    char file[4096] = {0};
    size_t file_length = job->payload_length > 2 ? job->payload_length - 2 : 0;
    if (file_length >= sizeof(file)) file_length = sizeof(file) - 1;
    memcpy(file, run->payload + 1, file_length);
    meddle_then_wait(run, file, &run->cancelled);
    return NULL;
#endif
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
#ifdef STEP_FAILS
        char marker[4200];
        snprintf(marker, sizeof marker, "%s.fail", path);
        if (access(marker, F_OK) == 0 && offsetof(wp_host_services, step_fail) < services->size) {
            static const char error[] = "disk full\n\x1b[2Jforged line";
            char message[64];
            int32_t status = services->step_fail(job->handle, "only-once", 9, error, sizeof error - 1);
            int length = snprintf(message, sizeof message, "step threw (step_fail status %d)", (int)status);
            run->completion(run->context, WP_OUTCOME_FAILED, message, (size_t)length);
            return NULL;
        }
#endif
        services->step_commit(job->handle, "only-once", 9, (const uint8_t *)"{\"value\":1}", 11);
    } else if (begun < 0) {
        run->completion(run->context, WP_OUTCOME_FAILED, "step refused", 12);
        return NULL;
    }
    services->log(job->handle, WP_LOG_INFO, "c plugin done", 13);
#if defined(COMPLETE_TWICE) || defined(COMPLETE_RACING)
    complete_twice(run);
    return NULL;
#endif
    if (memmem(run->payload, job->payload_length, "fail", 4)) {
        run->completion(run->context, WP_OUTCOME_FAILED, "asked to fail", 13);
    } else {
        run->completion(run->context, WP_OUTCOME_COMPLETED, NULL, 0);
    }
    return NULL;
}

static int32_t create(const wp_host_services *host, void **instance, char *error, size_t capacity) {
#ifdef CREATE_TERM
    signal(SIGTERM, SIG_IGN);
#endif
#ifdef CREATE_BLOCKS_TERM
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, NULL);
#endif
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
#ifdef JOB_SIGNALS
    __atomic_store_n(&((struct run *)argument)->cancelled, 1, __ATOMIC_SEQ_CST);
    return;
#endif
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
