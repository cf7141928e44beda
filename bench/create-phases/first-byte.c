/* first-byte PROGRAM ARGS...: runs PROGRAM with its stdout on a pipe and prints how long the first
 * byte took to come, and the whole run. Writes "FB start" and "FB first" to the ftrace marker (when
 * tracing is available) so a trace of the run can be cut at both points. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: first-byte PROGRAM [ARGS...]\n"); return 2; }
    int marker = open("/sys/kernel/tracing/trace_marker", O_WRONLY);
    int out[2];
    if (pipe(out) != 0) { perror("pipe"); return 1; }
    double start = now_ms();
    if (marker >= 0) write(marker, "FB start\n", 9);
    pid_t child = fork();
    if (child == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    close(out[1]);
    char buf[4096];
    ssize_t n = read(out[0], buf, 1);
    double first = now_ms();
    if (marker >= 0) write(marker, "FB first\n", 9);
    while (read(out[0], buf, sizeof buf) > 0) { }
    int status;
    waitpid(child, &status, 0);
    if (n <= 0) { fprintf(stderr, "no output\n"); return 1; }
    printf("first byte %.2f ms, total %.2f ms\n", first - start, now_ms() - start);
    return 0;
}
