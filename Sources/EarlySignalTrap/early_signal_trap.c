#include "early_signal_trap.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static const int trapped[] = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGTSTP};
#define TRAPPED_COUNT (sizeof(trapped) / sizeof(trapped[0]))
static volatile sig_atomic_t arrived[TRAPPED_COUNT];

static void record(int signal_number) {
    for (unsigned i = 0; i < TRAPPED_COUNT; i++) {
        if (trapped[i] == signal_number && arrived[i] < 2) arrived[i] += 1;
    }
}

/// The first argument that is not an option: the subcommand.
static const char *subcommand(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (argv[i] != NULL && argv[i][0] != '-') return argv[i];
    }
    return NULL;
}

/// Runs before `main`, as early as a program can: from `.preinit_array`, right after the dynamic loader
/// relocated everything and before any library's initialisers (Swift's and Foundation's take milliseconds).
/// glibc passes argc and argv. Only the long-running commands trap early: the others keep the default actions.
static void early_signals_install(int argc, char **argv, char **envp) {
    (void)envp;
    const char *command = subcommand(argc, argv);
    if (command == NULL || (strcmp(command, "run") != 0 && strcmp(command, "resume") != 0)) return;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = record;
    action.sa_flags = SA_RESTART;  // the start's system calls go on as if nothing happened
    sigemptyset(&action.sa_mask);
    for (unsigned i = 0; i < TRAPPED_COUNT; i++) sigaction(trapped[i], &action, NULL);
}

__attribute__((used, section(".preinit_array"))) static void (*const early_signals_preinit)(int, char **, char **) =
    early_signals_install;

int early_signals_replay(void) {
    int sent = 0;
    for (unsigned i = 0; i < TRAPPED_COUNT; i++) {
        int times = arrived[i];
        arrived[i] = 0;
        for (int n = 0; n < times; n++) {
            // To the process, not to this thread (`raise`): Dispatch's threads block signals, and a signal sent
            // to one of them would stay pending there forever.
            kill(getpid(), trapped[i]);
            sent += 1;
        }
    }
    return sent;
}
