/* check_redis.h - a private redis-server for a Check suite that needs a real one.
 *
 * check_redis_start() (an unchecked fixture, once per suite) starts `redis-server` on a free
 * loopback port as a child process, without a shell, persistence or a config file; the child
 * dies with the test runner (PR_SET_PDEATHSIG). Tests then open their stores on
 * check_redis_url(), and store_open's own retry waits for the server to listen: no sleeps.
 * Set VOXCAST_REDIS_SERVER to its path when it is not on PATH. Header-only: each suite is one
 * file. (check_store.c carries an older copy of the same code.) */
#ifndef VOXCAST_CHECK_REDIS_H
#define VOXCAST_CHECK_REDIS_H

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t check_redis_pid = -1;
static int   check_redis_port;

/* A TCP port nothing listens on right now (the kernel's pick for a socket bound to port 0). */
static inline int check_redis_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static inline void check_redis_start(void)
{
    check_redis_port = check_redis_free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", check_redis_port);
    const char *bin = getenv("VOXCAST_REDIS_SERVER") ? getenv("VOXCAST_REDIS_SERVER") : "redis-server";
    pid_t parent = getpid();
    check_redis_pid = fork();
    if (check_redis_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execlp(bin, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               (char *)NULL);
        _exit(127);
    }
}

static inline void check_redis_stop(void)
{
    if (check_redis_pid > 0) {
        kill(check_redis_pid, SIGKILL);
        waitpid(check_redis_pid, NULL, 0);
    }
    check_redis_pid = -1;
}

/* "redis://127.0.0.1:PORT/0" of the suite's server. */
static inline void check_redis_url(char *out, size_t outlen)
{
    snprintf(out, outlen, "redis://127.0.0.1:%d/0", check_redis_port);
}

#endif
