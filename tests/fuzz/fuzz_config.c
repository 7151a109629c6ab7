/* fuzz_config.c - libFuzzer target for the configuration parser (common/config.c).
 *
 * config_load_file() reads a path, so the input is written to a memfd once per run and loaded
 * through /proc/self/fd/N: the parser sees a real file, nothing touches the disk, and no temp file
 * is left behind if a run crashes. After a load (good or bad) every declared getter is read, which
 * catches a value stored unvalidated; a failed load must name where it failed. The same bytes are
 * then split on newlines into an environment for config_load_env(), whose VOXCAST_* name mapping
 * (provider fields matched from the end of the name) is index arithmetic worth fuzzing too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

#define FUZZ_MAX_ENV 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char memfd_path[64];

static void fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_config: %s\n", what);
        abort();
    }
}

static void write_all(int fd, const uint8_t *data, size_t size)
{
    fuzz_check(ftruncate(fd, 0) == 0, "ftruncate on the memfd failed");
    size_t off = 0;
    while (off < size) {
        ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);
        fuzz_check(n > 0, "write to the memfd failed");
        off += (size_t)n;
    }
}

static int count_kafka(void *ctx, const char *key, const char *value)
{
    fuzz_check(key != NULL && value != NULL, "kafka property without key or value");
    (*(size_t *)ctx)++;
    return 0;
}

/* Reads every getter once: values set through any path must be of their declared type. */
static void read_back(const struct config *c)
{
    static const char *const ints[] = {"redis.connect_timeout_ms", "consumer.concurrency",
                                       "retry.max_attempts", "retry.base_ms", "retry.max_ms",
                                       "job.max_text_chars", "launch.ack_timeout_ms"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        fuzz_check(config_int(c, ints[i]) >= 0, "negative whole number after validation");
    fuzz_check(config_get(c, "kafka.topic") != NULL, "declared key without a value");
    (void)config_bool(c, "output.fsync");
    fuzz_check(config_provider_double(c, "primary", "rate") >= 0.0, "negative provider rate");
    fuzz_check(config_provider_int(c, "a", "timeout_ms") >= 0, "negative provider timeout");
    size_t n = 0;
    fuzz_check(config_each_kafka(c, count_kafka, &n) == 0 && n >= 2, "kafka listing failed");
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    write_all(memfd, data, size);
    struct config *c = config_new();
    char err[512] = "";
    if (config_load_file(c, memfd_path, err, sizeof err) != 0)
        fuzz_check(strncmp(err, memfd_path, strlen(memfd_path)) == 0,
                   "error does not name the file");
    read_back(c);
    config_free(c);
}

static void fuzz_env(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *envp[FUZZ_MAX_ENV + 1];
    if (!copy)
        return;
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t n = 0;
    for (char *p = copy; p && n < FUZZ_MAX_ENV; n++) {
        envp[n] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    envp[n] = NULL;
    struct config *c = config_new();
    char err[512] = "";
    if (config_load_env(c, envp, err, sizeof err) != 0)
        fuzz_check(err[0] != '\0', "environment rejected without a reason");
    read_back(c);
    config_free(c);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_config", 0);
        fuzz_check(memfd >= 0, "memfd_create failed");
        snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    }
    fuzz_file(data, size);
    fuzz_env(data, size);
    return 0;
}
