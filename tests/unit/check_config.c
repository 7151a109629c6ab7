/* check_config.c - configuration: file syntax, errors naming file:line, types, the precedence
 * defaults < file < environment < -X, provider and kafka families. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "config.h"

static char path[64];

static void write_file(const char *text)
{
    snprintf(path, sizeof path, "/tmp/voxcast-config-%d.conf", (int)getpid());
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static void teardown(void)
{
    unlink(path);
}

START_TEST(test_defaults)
{
    struct config *c = config_new();
    ck_assert_str_eq(config_get(c, "kafka.topic"), "voxcast.jobs");
    ck_assert_int_eq(config_int(c, "consumer.concurrency"), 16);
    ck_assert_int_eq(config_int(c, "retry.max_attempts"), 3);
    ck_assert_int_eq(config_int(c, "breaker.open_ms"), 60000);
    ck_assert_str_eq(config_get(c, "providers"), "espeak");
    ck_assert_int_eq(config_provider_int(c, "x", "timeout_ms"), 60000);
    ck_assert_ptr_null(config_get(c, "no.such.key"));
    config_free(c);
}
END_TEST

START_TEST(test_file_syntax)
{
    write_file("# comment\n\n  redis.url = redis://h:1/2   # trailing comment\n"
               "providers=\"a, b # not a comment\"\nprovider.a.type = openai\nkafka.linger.ms = 5\n");
    struct config *c = config_new();
    char err[256] = "";
    ck_assert_int_eq(config_load_file(c, path, err, sizeof err), 0);
    ck_assert_str_eq(config_get(c, "redis.url"), "redis://h:1/2");
    ck_assert_str_eq(config_get(c, "providers"), "a, b # not a comment");
    ck_assert_str_eq(config_provider(c, "a", "type"), "openai");
    config_free(c);
}
END_TEST

START_TEST(test_unknown_key_names_file_and_line)
{
    write_file("redis.url = redis://x\n\nretry.max_atempts = 4\n");
    struct config *c = config_new();
    char err[256] = "", want[128];
    ck_assert_int_eq(config_load_file(c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: unknown key \"retry.max_atempts\"", path);
    ck_assert_str_eq(err, want);
    config_free(c);
}
END_TEST

/* The engine's at-least-once rests on these librdkafka properties: setting one, from a file or
 * -X, is an error naming the key, never a silent override of the engine's own value. */
START_TEST(test_engine_owned_kafka_keys_refused)
{
    static const char *const owned[] = {"enable.auto.offset.store", "enable.auto.commit",
                                        "partition.assignment.strategy", "isolation.level"};
    for (size_t i = 0; i < 4; i++) {
        char line[128], err[256] = "", want[64];
        snprintf(line, sizeof line, "kafka.%s=x", owned[i]);
        struct config *c = config_new();
        ck_assert_int_eq(config_set_arg(c, line, "-X", err, sizeof err), -1);
        snprintf(want, sizeof want, "-X: kafka.%s is set by voxcast", owned[i]);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
        config_free(c);
    }
    write_file("# safety\nkafka.enable.auto.offset.store = true\n");
    struct config *c = config_new();
    char err[256] = "";
    ck_assert_int_eq(config_load_file(c, path, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, ":2: kafka.enable.auto.offset.store is set by voxcast"));
    ck_assert_int_eq(config_set_arg(c, "kafka.auto.commit.interval.ms=500", "-X", err, sizeof err), 0);
    config_free(c);
}
END_TEST

START_TEST(test_type_errors)
{
    struct config *c = config_new();
    char err[256];
    ck_assert_int_eq(config_set_arg(c, "consumer.concurrency=lots", "-X", err, sizeof err), -1);
    ck_assert(strstr(err, "consumer.concurrency must be a whole number") != NULL);
    ck_assert_int_eq(config_set_arg(c, "retry.base_ms=-1", "-X", err, sizeof err), -1);
    ck_assert_int_eq(config_set_arg(c, "provider.p.rate=nan", "-X", err, sizeof err), -1);
    ck_assert_int_eq(config_set_arg(c, "provider.p.rate=inf", "-X", err, sizeof err), -1);
    ck_assert_int_eq(config_set_arg(c, "provider.p.rate=2.5", "-X", err, sizeof err), 0);
    ck_assert(config_provider_double(c, "p", "rate") == 2.5);
    ck_assert_int_eq(config_set_arg(c, "output.fsync=maybe", "-X", err, sizeof err), -1);
    ck_assert_int_eq(config_set_arg(c, "novalue", "-X", err, sizeof err), -1);
    ck_assert_int_eq(config_set_arg(c, "provider.p.colour=red", "-X", err, sizeof err), -1);
    ck_assert_int_eq(config_set_arg(c, "provider.P!.type=openai", "-X", err, sizeof err), -1);
    config_free(c);
}
END_TEST

START_TEST(test_precedence)
{
    write_file("retry.base_ms = 10\nretry.max_ms = 20\nretry.max_attempts = 7\n");
    char *env[] = {"VOXCAST_RETRY_MAX_MS=30", "VOXCAST_RETRY_MAX_ATTEMPTS=8", "VOXCAST_UNRELATED=1",
                   "OTHER=2", NULL};
    struct config *c = config_new();
    char err[256];
    ck_assert_int_eq(config_load_file(c, path, err, sizeof err), 0);
    ck_assert_int_eq(config_load_env(c, env, err, sizeof err), 0);
    ck_assert_int_eq(config_set_arg(c, "retry.max_attempts=9", "-X", err, sizeof err), 0);
    ck_assert_int_eq(config_int(c, "retry.base_ms"), 10);      /* file */
    ck_assert_int_eq(config_int(c, "retry.max_ms"), 30);       /* env beats file */
    ck_assert_int_eq(config_int(c, "retry.max_attempts"), 9);  /* -X beats env */
    config_free(c);
}
END_TEST

START_TEST(test_env_families)
{
    char *env[] = {"VOXCAST_PROVIDER_PRIMARY_CONNECT_TIMEOUT_MS=250",
                   "VOXCAST_PROVIDER_MY_TTS_API_KEY_ENV=KEYVAR",
                   "VOXCAST_KAFKA_SASL_USERNAME=alice", "VOXCAST_KAFKA_BOOTSTRAP_SERVERS=k:9092",
                   "VOXCAST_REDIS_URL=redis://r:6379/0", NULL};
    struct config *c = config_new();
    char err[256];
    ck_assert_int_eq(config_load_env(c, env, err, sizeof err), 0);
    ck_assert_int_eq(config_provider_int(c, "primary", "connect_timeout_ms"), 250);
    ck_assert_int_eq(config_provider_int(c, "primary", "timeout_ms"), 60000);
    ck_assert_str_eq(config_provider(c, "my_tts", "api_key_env"), "KEYVAR");
    ck_assert_str_eq(config_get(c, "kafka.sasl.username"), "alice");
    ck_assert_str_eq(config_get(c, "kafka.bootstrap.servers"), "k:9092");
    ck_assert_str_eq(config_get(c, "redis.url"), "redis://r:6379/0");
    config_free(c);
}
END_TEST

/* voices, models and output_format are provider fields, from a file, -X and the environment
 * (VOXCAST_PROVIDER_EL_VOICES must not be read as the field "voice" of a provider "el_voices"
 * or the other way round). */
START_TEST(test_provider_voice_fields)
{
    char *env[] = {"VOXCAST_PROVIDER_EL_VOICES=alloy=21m00Tcm4TlvDq8ikWAM",
                   "VOXCAST_PROVIDER_EL_VOICE=EXAVITQu4vr4xnSDxMaL",
                   "VOXCAST_PROVIDER_EL_OUTPUT_FORMAT=wav_22050", NULL};
    struct config *c = config_new();
    char err[256];
    ck_assert_str_eq(config_provider(c, "el", "voices"), "");
    ck_assert_str_eq(config_provider(c, "el", "models"), "");
    ck_assert_str_eq(config_provider(c, "el", "output_format"), "");
    ck_assert_int_eq(config_load_env(c, env, err, sizeof err), 0);
    ck_assert_str_eq(config_provider(c, "el", "voices"), "alloy=21m00Tcm4TlvDq8ikWAM");
    ck_assert_str_eq(config_provider(c, "el", "voice"), "EXAVITQu4vr4xnSDxMaL");
    ck_assert_str_eq(config_provider(c, "el", "output_format"), "wav_22050");
    ck_assert_int_eq(config_set_arg(c, "provider.el.models=fast=eleven_flash_v2_5, hq = eleven_v3",
                                    "-X", err, sizeof err), 0);
    ck_assert_str_eq(config_provider(c, "el", "models"), "fast=eleven_flash_v2_5, hq = eleven_v3");
    config_free(c);
}
END_TEST

struct seen {
    char keys[16][64];
    int  n;
};

static int collect(void *ctx, const char *key, const char *value)
{
    struct seen *s = ctx;
    snprintf(s->keys[s->n++], 64, "%s=%s", key, value);
    return 0;
}

START_TEST(test_kafka_passthrough)
{
    struct config *c = config_new();
    char err[256];
    ck_assert_int_eq(config_set_arg(c, "kafka.security.protocol=SASL_SSL", "-X", err, sizeof err), 0);
    ck_assert_int_eq(config_set_arg(c, "kafka.linger.ms=5", "-X", err, sizeof err), 0);
    ck_assert_int_eq(config_set_arg(c, "kafka.linger.ms=7", "-X", err, sizeof err), 0);
    ck_assert_int_eq(config_set_arg(c, "kafka.topic=t", "-X", err, sizeof err), 0);
    struct seen s = {.n = 0};
    ck_assert_int_eq(config_each_kafka(c, collect, &s), 0);
    ck_assert_int_eq(s.n, 4); /* bootstrap, group, protocol, linger once: topic is ours */
    ck_assert_str_eq(s.keys[0], "bootstrap.servers=127.0.0.1:9092");
    ck_assert_str_eq(s.keys[1], "group.id=voxcast-consumers");
    ck_assert_str_eq(s.keys[2], "security.protocol=SASL_SSL");
    ck_assert_str_eq(s.keys[3], "linger.ms=7");
    config_free(c);
}
END_TEST

START_TEST(test_missing_file)
{
    struct config *c = config_new();
    char err[256];
    ck_assert_int_eq(config_load_file(c, "/nonexistent/voxcast.conf", err, sizeof err), -1);
    ck_assert_str_eq(err, "/nonexistent/voxcast.conf: No such file or directory");
    config_free(c);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_file_syntax);
    tcase_add_test(tc, test_unknown_key_names_file_and_line);
    tcase_add_test(tc, test_type_errors);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_env_families);
    tcase_add_test(tc, test_provider_voice_fields);
    tcase_add_test(tc, test_kafka_passthrough);
    tcase_add_test(tc, test_engine_owned_kafka_keys_refused);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(config_suite)
