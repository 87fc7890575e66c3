#ifndef EARLY_SIGNAL_TRAP_H
#define EARLY_SIGNAL_TRAP_H

/// Signals that arrived between the start of `worker run` / `worker resume` and `early_signals_replay`:
/// recorded by a handler installed before `main` (from `.preinit_array`), so that a supervisor's TERM sent while
/// the process starts is a drain, not the default action (death).
///
/// Sends each recorded signal again, to the handlers installed since, in the order of the list
/// TERM, INT, QUIT, USR1, TSTP (as many times as it came, at most 2), and returns how many it sent.
int early_signals_replay(void);

/// Bounds what happens after a crash (SIGSEGV, SIGBUS, SIGILL, SIGABRT, SIGFPE, SIGTRAP, SIGSYS): the handler
/// installed before (Swift's backtracer, which now and then hangs for good after printing its first line) still
/// runs, but a watchdog process started at the crash SIGKILLs this one `seconds` later if it is still there, so a
/// crashed worker always ends and its supervisor restarts it (`WORKER_CRASH_REPORT_TIMEOUT`, 30 s by default).
/// 0 installs nothing.
void crash_watchdog_install(unsigned seconds);

#endif
