#define _GNU_SOURCE
#include "early_signal_trap.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The handlers found for the crash signals (Swift's backtracer, or the default action), called after ours. */
static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGABRT, SIGFPE, SIGTRAP, SIGSYS};
#define FATAL_COUNT (sizeof(fatal) / sizeof(fatal[0]))
static struct sigaction previous[FATAL_COUNT];
static unsigned limit_seconds;
static volatile sig_atomic_t watching;

/* Starts a process that SIGKILLs `parent` after `limit_seconds`, unless `parent` dies first (it then dies too).
 * Only async-signal-safe calls: a raw fork (no atfork handlers), prctl, getppid, nanosleep, kill, close, _exit. */
static void start_watchdog(pid_t parent) {
    long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (child != 0) return;  /* the parent, or no child (then the crash goes on unwatched, as before) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);  /* the parent died before the line above */
    /* Hold nothing of the parent's: its liveness locks, sockets, pipes of a supervisor. */
    if (syscall(SYS_close_range, 3U, ~0U, 0) != 0) {
        for (int fd = 3; fd < 65536; fd++) close(fd);
    }
    struct timespec wait = {.tv_sec = (time_t)limit_seconds, .tv_nsec = 0};
    while (nanosleep(&wait, &wait) != 0) {}
    if (getppid() == parent) {
        static const char line[] = "worker: crash report did not finish in time: killing the process\n";
        (void)!write(STDERR_FILENO, line, sizeof line - 1);
        kill(parent, SIGKILL);
    }
    _exit(0);
}

static void on_fatal(int signal_number, siginfo_t *info, void *context) {
    if (!watching) {
        watching = 1;
        start_watchdog(getpid());
    }
    for (unsigned i = 0; i < FATAL_COUNT; i++) {
        if (fatal[i] != signal_number) continue;
        struct sigaction *before = &previous[i];
        if (before->sa_flags & SA_SIGINFO) {
            before->sa_sigaction(signal_number, info, context);
            return;
        }
        if (before->sa_handler != SIG_DFL && before->sa_handler != SIG_IGN) {
            before->sa_handler(signal_number);
            return;
        }
    }
    /* No handler before ours: the default action, now. */
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

void crash_watchdog_install(unsigned seconds) {
    if (seconds == 0) return;
    limit_seconds = seconds;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fatal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    for (unsigned i = 0; i < FATAL_COUNT; i++) {
        struct sigaction before;
        if (sigaction(fatal[i], NULL, &before) != 0) continue;
        previous[i] = before;
        sigaction(fatal[i], &action, NULL);
    }
}
