/* launch.c - `voxcast launch`: contacts file -> one Kafka job per contact.
 *
 * Rows stream through in chunks. For each chunk: render and validate every row (rejects go to
 * --rejects with line and reason), reserve the contacts in Redis in one round trip (this is how
 * a repeated id is found without holding a million ids in memory, and how --resume skips the
 * contacts already done), then produce the reserved jobs. Delivery reports move contacts from
 * reserved to pending and count them as enqueued, so the campaign record never claims a job Kafka
 * has not acknowledged. The command returns only when every produced job is acknowledged. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acker.h"
#include "bloom.h"
#include "buf.h"
#include "clock.h"
#include "cmd.h"
#include "contacts.h"
#include "convert.h"
#include "idset.h"
#include "job.h"
#include "jobbuild.h"
#include "kafka.h"
#include "lanes.h"
#include "log.h"
#include "progress.h"
#include "rejects.h"
#include "sender.h"
#include "store.h"
#include "template.h"
#include "timefmt.h"
#include "utf8.h"
#include "voicecheck.h"
#include "xalloc.h"

#define CHUNK 5000
#define MAX_META 32
#define LOCK_TTL_MS 15000 /* a launch that dies blocks the campaign's next launch this long */

/* One --variant NAME=TEMPLATE, split at the first '='. */
struct variant_opt {
    char        name[JOB_VARIANT_NAME_MAX + 2]; /* room to see a name one byte too long */
    const char *template_text;
};

struct launch_opts {
    const char *campaign, *contacts, *template_text, *template_file, *id_column;
    const char *voice, *lang, *model, *format, *rejects;
    const char *meta[MAX_META];
    size_t      nmeta;
    bool        resume, dry_run, json;
    const char *priority_name, *ttl, *expires_at;
    enum job_priority priority;
    int64_t     expires_at_ms;      /* from --ttl or --expires-at; 0: none */
    bool        no_dedup;
    struct variant_opt variants[JOB_VARIANTS_MAX];
    size_t      nvariants;
    bool        force;              /* reconcile: even a cancelled campaign */
};

/* One rendered job of a chunk; strings live in the chunk's arena buffers. */
struct pending_job {
    size_t id_off, id_len, json_off, json_len;
    long   line;
};

/* Rows rendered as jobs, then reserved in Redis, then produced. Two chunks alternate: while
 * Redis reserves one, the reader fills the other and the previous one is produced, so neither
 * side waits for the other (a reservation costs Redis about as long as the rows cost us). */
struct chunk {
    struct pending_job  jobs[CHUNK];
    size_t              njobs;
    struct buf          ids, payloads;
    struct store_batch *reserve;
    uint32_t            seq;     /* the run's chunk number in Redis (1, 2, ...), once reserved */
    enum { CHUNK_FILLING, CHUNK_SENT, CHUNK_RESERVED } state; /* SENT: results still on the wire */
};

static void chunk_empty(struct chunk *c)
{
    c->state = CHUNK_FILLING;
    c->njobs = 0;
    buf_reset(&c->ids);
    buf_reset(&c->payloads);
}

struct launch {
    const struct launch_opts *o;
    const struct config      *cfg;
    struct template          *tpl;
    char                     *template_text;
    struct contacts          *src;
    struct rejects           *rej;
    struct store             *store;
    struct acker             *acker;         /* delivery reports -> Redis, own thread */
    struct idset             *seen;          /* --dry-run only: no Redis to ask */
    struct bloom             *met;           /* a campaign this run created: ids met so far */
    bool                      locked;        /* holds the campaign's launch lock (token run_id) */
    struct lock_keeper        lock;          /* refreshes it while the launch runs */
    bool                      lock_failed;   /* lost, or Redis failed refreshing it (printed) */
    rd_kafka_t               *rk;
    rd_kafka_topic_t         *rkt;
    char                      run_id[40];
    uint32_t                  last_seq;      /* of the chunks reserved so far */
    struct chunk              chunks[2];
    struct chunk             *fill;          /* the chunk rows go to; the other may be in Redis */
    struct jobbuild          *jb;            /* row -> job; its slots are the contacts' slots */
    struct template          *var_tpl[JOB_VARIANTS_MAX]; /* each --variant's template */
    struct idset             *texts;         /* --dry-run: distinct spoken texts met */
    int64_t                   unique_texts, characters; /* --dry-run: what would be billed */
    char                      enqueued_at[32];
    int64_t                   enqueued, rejected, rejected_recorded, already_done, failed, produced;
    char                      delivery_error[256];
    struct progress           bar;
};

/* ---------------------------------------------------------------- options */

static void launch_usage(FILE *out)
{
    fputs("usage: voxcast launch --campaign ID --contacts FILE (--template TEXT | --template-file F |\n"
          "                      --variant NAME=TEMPLATE...) [--id-column contact_id] [--voice V]\n"
          "                      [--lang L] [--model M] [--format FORMAT] [--meta COLUMN]...\n"
          "                      [--priority high|normal|low] [--ttl DURATION | --expires-at TIME]\n"
          "                      [--no-dedup] [--rejects FILE] [--resume] [--dry-run] [--json]\n\n"
          "Enqueues one voice-message job per contact to Kafka (key = contact id). FILE is CSV with a\n"
          "header row (RFC 4180) or JSON Lines (.jsonl); every column is a template variable:\n"
          "{{first_name}}. A row is rejected, not enqueued, when its id is empty or repeated, a\n"
          "placeholder has no value, it is not valid UTF-8 (or its text holds a NUL byte), or its\n"
          "text is longer than job.max_text_chars; rejects are listed with line and reason in\n"
          "--rejects (CSV) and the launch goes on. Returns once Kafka has acknowledged every job.\n\n"
          "  --campaign ID        1-64 of [A-Za-z0-9._-]; an existing id is refused unless --resume\n"
          "  --contacts FILE      the contact list\n"
          "  --template TEXT      message text with {{column}} placeholders\n"
          "  --template-file F    ... read from a file\n"
          "  --id-column NAME     the column holding the contact id (default contact_id)\n"
          "  --voice V, --lang L  passed to providers in every job; V is the campaign's logical voice,\n"
          "                       which each provider maps through provider.NAME.voices (given the\n"
          "                       consumers' configuration, launch says what each provider makes of it)\n"
          "  --model M            the logical model of every job, mapped through provider.NAME.models\n"
          "  --format FORMAT      the audio every contact gets (default wav): wav (the provider's\n"
          "                       own), mp3, ulaw_8000 or alaw_8000 (G.711 WAV, 8 kHz mono: what\n"
          "                       Twilio, Asterisk and most carriers play), wav_8000 or wav_16000\n"
          "                       (16-bit PCM WAV, mono); every WAV kind ends in .wav\n"
          "  --meta COLUMN        carry this column in the job's meta object (repeatable; a value\n"
          "                       that is not UTF-8 or holds a NUL byte is left out)\n"
          "  --variant NAME=TEMPLATE  instead of --template: one file per variant for each contact,\n"
          "                       <contact>.<NAME>.<ext> (repeatable, up to 8; NAME is 1-32 of\n"
          "                       [a-z0-9_-]); each TEMPLATE is rendered per row like --template, and a\n"
          "                       row whose variant text is empty or too long is rejected\n"
          "  --priority P         high, normal (default) or low: a high campaign's jobs travel in\n"
          "                       kafka.topic.high and are rendered before normal and low jobs queued\n"
          "                       earlier (low: kafka.topic.low, rendered when nothing else waits)\n"
          "  --ttl DURATION       a job not rendered within DURATION of the launch (90s, 30m, 6h, 2d)\n"
          "                       is not rendered: it goes to the DLQ with reason expired\n"
          "  --expires-at TIME    the same with an instant, RFC 3339 with its offset\n"
          "                       (2026-12-03T18:00:00+01:00); one of --ttl and --expires-at\n"
          "  --no-dedup           render every contact, even when another contact's spoken request\n"
          "                       (text, voice, lang, format, model) is identical (default: render\n"
          "                       it once, copy it for the others)\n"
          "  --rejects FILE       write rejected rows as CSV: line,contact,reason\n"
          "  --resume             relaunch an existing campaign: enqueue only contacts not yet done\n"
          "  --dry-run            validate and count, enqueue nothing, touch neither Kafka nor Redis;\n"
          "                       also counts the distinct spoken texts and the characters providers\n"
          "                       would bill (each distinct text once, every text with --no-dedup)\n"
          "  --json               print {\"campaign\",\"enqueued\",\"rejected\",\"elapsed_s\",...} instead\n"
          "                       of text (a dry run adds \"unique_texts\" and \"characters\")\n\n"
          "example:\n"
          "  voxcast launch --campaign spring-promo --contacts contacts.csv \\\n"
          "      --template 'Hi {{first_name}}, your order ships today.' --rejects rejects.csv\n"
          "  voxcast -c consumers.conf launch --campaign spring-hd --contacts contacts.csv \\\n"
          "      --template 'Hi {{first_name}}.' --voice alloy --model hd   # and how each provider maps them\n"
          "  voxcast launch --campaign outage --contacts contacts.csv --priority high --ttl 2h \\\n"
          "      --variant 'live=Hi {{first_name}}, power is back.' \\\n"
          "      --variant 'voicemail=This is your utility: power is back in your area.'\n",
          out);
}

/* Records --variant NAME=TEMPLATE (checked later, with the other options). */
static int add_variant(struct launch_opts *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq) {
        cmd_error("launch: --variant takes NAME=TEMPLATE, not \"%s\"", arg);
        return -1;
    }
    if (o->nvariants == JOB_VARIANTS_MAX) {
        cmd_error("launch: at most %d --variant options", JOB_VARIANTS_MAX);
        return -1;
    }
    struct variant_opt *v = &o->variants[o->nvariants++];
    size_t n = (size_t)(eq - arg);
    snprintf(v->name, sizeof v->name, "%.*s", (int)(n < sizeof v->name - 1 ? n : sizeof v->name - 1), arg);
    v->template_text = eq + 1;
    return 0;
}

static int parse_opts(int argc, char **argv, struct launch_opts *o)
{
    enum { O_ID = 256, O_TFILE, O_META, O_MODEL, O_PRIORITY, O_TTL, O_EXPIRES, O_NODEDUP,
           O_VARIANT, O_FORCE };
    static const struct option longopts[] = {
        {"campaign", required_argument, NULL, 'C'}, {"contacts", required_argument, NULL, 'f'},
        {"template", required_argument, NULL, 't'}, {"template-file", required_argument, NULL, O_TFILE},
        {"id-column", required_argument, NULL, O_ID}, {"voice", required_argument, NULL, 'v'},
        {"lang", required_argument, NULL, 'l'}, {"format", required_argument, NULL, 'F'},
        {"model", required_argument, NULL, O_MODEL},
        {"meta", required_argument, NULL, O_META}, {"rejects", required_argument, NULL, 'r'},
        {"resume", no_argument, NULL, 'R'}, {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        {"priority", required_argument, NULL, O_PRIORITY}, {"ttl", required_argument, NULL, O_TTL},
        {"expires-at", required_argument, NULL, O_EXPIRES}, {"no-dedup", no_argument, NULL, O_NODEDUP},
        {"variant", required_argument, NULL, O_VARIANT}, {"force", no_argument, NULL, O_FORCE},
        {NULL, 0, NULL, 0}};
    *o = (struct launch_opts){.id_column = "contact_id", .format = "wav"};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'C': o->campaign = optarg; break;
        case 'f': o->contacts = optarg; break;
        case 't': o->template_text = optarg; break;
        case O_TFILE: o->template_file = optarg; break;
        case O_ID: o->id_column = optarg; break;
        case 'v': o->voice = optarg; break;
        case 'l': o->lang = optarg; break;
        case O_MODEL: o->model = optarg; break;
        case 'F': o->format = optarg; break;
        case 'r': o->rejects = optarg; break;
        case 'R': o->resume = true; break;
        case 'n': o->dry_run = true; break;
        case 'j': o->json = true; break;
        case O_PRIORITY: o->priority_name = optarg; break;
        case O_TTL: o->ttl = optarg; break;
        case O_EXPIRES: o->expires_at = optarg; break;
        case O_NODEDUP: o->no_dedup = true; break;
        case O_FORCE: o->force = true; break;
        case O_VARIANT:
            if (add_variant(o, optarg) != 0)
                return -1;
            break;
        case O_META:
            if (o->nmeta == MAX_META) {
                cmd_error("launch: at most %d --meta columns", MAX_META);
                return -1;
            }
            o->meta[o->nmeta++] = optarg;
            break;
        case 'h': launch_usage(stdout); return 1;
        default: launch_usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        cmd_error("launch: unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    return 0;
}

/* --ttl or --expires-at -> o->expires_at_ms, as of now_ms; a deadline already past could only
 * fill the DLQ, so it is a usage error. */
static int check_deadline(struct launch_opts *o, int64_t now_ms)
{
    if (o->ttl && o->expires_at) {
        cmd_error("launch: give --ttl or --expires-at, not both");
        return -1;
    }
    int64_t ms;
    if (o->ttl) {
        if (timefmt_parse_duration(o->ttl, &ms) != 0) {
            cmd_error("launch: --ttl must be a duration such as 90s, 30m, 6h or 2d, not \"%s\"", o->ttl);
            return -1;
        }
        o->expires_at_ms = now_ms + ms;
    } else if (o->expires_at) {
        if (timefmt_parse_rfc3339(o->expires_at, &ms) != 0) {
            cmd_error("launch: --expires-at must be an RFC 3339 time with its offset, such as "
                      "2026-12-03T18:00:00Z or 2026-12-03T18:00:00+01:00, not \"%s\"", o->expires_at);
            return -1;
        }
        if (ms <= now_ms) {
            cmd_error("launch: --expires-at %s has already passed", o->expires_at);
            return -1;
        }
        o->expires_at_ms = ms;
    }
    return 0;
}

static int check_opts(struct launch_opts *o)
{
    if (!o->campaign || !o->contacts) {
        cmd_error("launch: --campaign and --contacts are required (see voxcast launch --help)");
        return -1;
    }
    if (!job_campaign_valid(o->campaign)) {
        cmd_error("launch: campaign \"%s\" must be 1-64 of [A-Za-z0-9._-], and not \".\" or \"..\"", o->campaign);
        return -1;
    }
    if ((o->template_text != NULL) + (o->template_file != NULL) + (o->nvariants > 0) != 1) {
        cmd_error("launch: give exactly one of --template, --template-file and --variant");
        return -1;
    }
    for (size_t i = 0; i < o->nvariants; i++) {
        if (!job_variant_name_valid(o->variants[i].name)) {
            cmd_error("launch: --variant name \"%s\" must be 1-%d of [a-z0-9_-]", o->variants[i].name,
                      JOB_VARIANT_NAME_MAX);
            return -1;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(o->variants[k].name, o->variants[i].name) == 0) {
                cmd_error("launch: --variant %s is given twice", o->variants[i].name);
                return -1;
            }
    }
    enum out_format f;
    if (out_format_parse(o->format, &f) != 0) {
        cmd_error("launch: --format must be one of %s, not \"%s\"", JOB_FORMATS, o->format);
        return -1;
    }
    if (o->priority_name && job_priority_parse(o->priority_name, &o->priority) != 0) {
        cmd_error("launch: --priority must be high, normal or low, not \"%s\"", o->priority_name);
        return -1;
    }
    return check_deadline(o, clock_wall_ms());
}

/* ---------------------------------------------------------------- set-up */

static char *read_template_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        buf_append(&b, chunk, n);
    fclose(fp);
    while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.data[--b.len] = '\0'; /* an editor's final newline is not part of the message */
    return buf_steal(&b);
}

/* Compiles each --variant's template; the job's text is the first variant's. */
static int open_variants(struct launch *L)
{
    char err[512];
    for (size_t i = 0; i < L->o->nvariants; i++) {
        L->var_tpl[i] = template_compile(L->o->variants[i].template_text, err, sizeof err);
        if (!L->var_tpl[i]) {
            cmd_error("--variant %s: template: %s", L->o->variants[i].name, err);
            return -1;
        }
    }
    return 0;
}

static int open_template(struct launch *L)
{
    char err[512];
    char *text = L->o->template_file ? read_template_file(L->o->template_file) : NULL;
    if (L->o->template_file && !text) {
        cmd_error("%s: %m", L->o->template_file);
        return -1;
    }
    if (!text)
        text = xstrdup(L->o->nvariants > 0 ? L->o->variants[0].template_text : L->o->template_text);
    L->template_text = text;
    L->tpl = template_compile(L->template_text, err, sizeof err);
    if (!L->tpl) {
        cmd_error("%stemplate: %s", L->o->nvariants > 0 ? "--variant " : "", err);
        return -1;
    }
    return open_variants(L);
}

/* Makes the row -> job builder and binds the contacts' slots to its slot names (template
 * placeholders, then the id column, then meta), so a slot number means the same to both. */
static int bind_columns(struct launch *L)
{
    char err[1024];
    clock_iso8601(clock_wall_ms(), L->enqueued_at);
    struct jobbuild_variant variants[JOB_VARIANTS_MAX];
    for (size_t i = 0; i < L->o->nvariants; i++)
        variants[i] = (struct jobbuild_variant){.name = L->o->variants[i].name, .tpl = L->var_tpl[i]};
    struct jobbuild_spec spec = {
        .campaign = L->o->campaign, .id_column = L->o->id_column, .tpl = L->tpl,
        .meta = L->o->meta, .nmeta = L->o->nmeta, .voice = L->o->voice, .lang = L->o->lang,
        .model = L->o->model, .format = L->o->format, .enqueued_at = L->enqueued_at,
        .max_text_chars = (size_t)config_int(L->cfg, "job.max_text_chars"),
        .priority = L->o->priority, .expires_at_ms = L->o->expires_at_ms,
        .no_dedup = L->o->no_dedup, .variants = variants, .nvariants = L->o->nvariants};
    L->jb = jobbuild_new(&spec, err, sizeof err);
    if (!L->jb) {
        cmd_error("launch: %s", err);
        return -1;
    }
    size_t n;
    const char *const *names = jobbuild_slot_names(L->jb, &n);
    if (contacts_bind(L->src, names, n, err, sizeof err) != 0) {
        cmd_error("%s", err);
        return -1;
    }
    return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct launch *L = opaque;
    bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    uintptr_t job = (uintptr_t)m->_private; /* chunk << 1 | existing, see produce_one */
    acker_add(L->acker, (uint32_t)(job >> 1), m->key, m->key_len, job & 1, ok);
    if (ok) {
        L->enqueued++;
    } else if (L->failed++ == 0) {
        snprintf(L->delivery_error, sizeof L->delivery_error, "%s", rd_kafka_err2str(m->err));
    }
}

/* Connects the producer and proves the cluster and topic answer, within a bounded time. */
static int open_kafka(struct launch *L)
{
    char err[512];
    rd_kafka_conf_t *conf = kafka_conf_new(L->cfg, KAFKA_PRODUCER, err, sizeof err);
    if (!conf) {
        cmd_error("%s", err);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, L);
    L->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!L->rk) {
        rd_kafka_conf_destroy(conf);
        cmd_error("kafka: %s", err);
        return -1;
    }
    char topic[512]; /* every job of the campaign travels in its priority's lane */
    lane_topic_name(L->cfg, L->o->priority, topic, sizeof topic);
    L->rkt = rd_kafka_topic_new(L->rk, topic, NULL);
    if (kafka_check_topic(L->rk, L->rkt, L->cfg, 10000, err, sizeof err) != 0) {
        cmd_error("%s", err);
        return -1;
    }
    return 0;
}

/* The --variant options as a JSON array of [name, template] pairs (malloc'd; [] for none, so a
 * --resume without variants replaces the record of an earlier launch with them). */
static char *variants_json(const struct launch_opts *o)
{
    json_t *a = json_array();
    for (size_t i = 0; i < o->nvariants; i++)
        json_array_append_new(a, json_pack("[s,s]", o->variants[i].name, o->variants[i].template_text));
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return text;
}

/* What `voxcast reconcile` needs to render the same jobs again later, what `campaign list`
 * shows (priority), and how long Redis keeps the campaign once it ended (retention_s, read by
 * the store's completion and cancel). */
static void save_launch_settings(struct launch *L)
{
    char expires[TIMEFMT_RFC3339_LEN] = "", retention[32];
    if (L->o->expires_at_ms > 0)
        timefmt_format_rfc3339(L->o->expires_at_ms, expires);
    int64_t days = config_int(L->cfg, "campaign.retention_days");
    snprintf(retention, sizeof retention, "%lld", (long long)(days > 0 ? days * 86400 : 0));
    char *variants = variants_json(L->o);
    const char *fields[][2] = {{"contacts_file", L->o->contacts}, {"template", L->template_text},
                               {"id_column", L->o->id_column}, {"format", L->o->format},
                               {"voice", L->o->voice}, {"lang", L->o->lang}, {"model", L->o->model},
                               {"priority", job_priority_name(L->o->priority)},
                               {"expires_at", expires}, /* "": none (a --resume may drop it) */
                               {"dedup", L->o->no_dedup ? "false" : "true"},
                               {"variants", variants}, {"retention_s", retention}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i][1])
            store_campaign_set(L->store, L->o->campaign, fields[i][0], fields[i][1]);
    free(variants);
    if (L->o->nmeta == 0)
        return;
    json_t *cols = json_array(); /* a JSON array: column names may hold any character */
    for (size_t i = 0; i < L->o->nmeta; i++)
        json_array_append_new(cols, json_string(L->o->meta[i]));
    char *text = json_dumps(cols, JSON_COMPACT);
    if (text)
        store_campaign_set(L->store, L->o->campaign, "meta_columns", text);
    free(text);
    json_decref(cols);
}

/* One launch of a campaign at a time: two would both enqueue its contacts, and a reserve that
 * does not read states (L->met) is exact only while no one else writes them. */
static int take_lock(struct launch *L)
{
    int rc = store_lock(L->store, L->o->campaign, STORE_LOCK_LAUNCH, L->run_id, LOCK_TTL_MS);
    if (rc < 0) {
        cmd_error("redis: %s", store_error(L->store));
        return -1;
    }
    if (rc == 1) {
        cmd_error("campaign \"%s\" is being launched by another process; run this again once it has "
                  "finished (a launch that died frees the campaign within %d s)",
                  L->o->campaign, LOCK_TTL_MS / 1000);
        return -1;
    }
    L->locked = true;
    L->lock = (struct lock_keeper){.store = L->store, .campaign = L->o->campaign,
                                   .which = STORE_LOCK_LAUNCH, .token = L->run_id,
                                   .ttl_ms = LOCK_TTL_MS, .last_ms = clock_mono_ms()};
    return 0;
}

/* Refreshes the launch lock before each chunk's reservation and while waiting for Kafka (no batch
 * may be in flight on L->store; a refresh costs about 1/5000 of a chunk). A lock that lapsed
 * while this launch stalled may have let another launch in: stop (--resume is exact). */
static int keep_lock(struct launch *L)
{
    if (!L->locked)
        return 0;
    int rc = lock_keeper_refresh(&L->lock);
    if (rc == 1) {
        L->locked = false;
        cmd_error("campaign \"%s\": this launch lost its lock (it stalled for over %d s, or the lock "
                  "was taken from it); run it again with --resume", L->o->campaign, LOCK_TTL_MS / 1000);
        return -1;
    }
    if (rc < 0) {
        cmd_error("redis: refreshing the launch lock: %s", store_error(L->store));
        return -1;
    }
    return 0;
}

/* Frees the campaign for the next launch; best effort, as the lock expires anyway. */
static void release_lock(struct launch *L)
{
    if (!L->locked)
        return;
    L->locked = false;
    for (int i = 0; i < 2; i++) {
        if (L->chunks[i].state == CHUNK_SENT) { /* an aborted launch: replies still on the wire */
            store_reconnect(L->store);
            break;
        }
    }
    store_unlock(L->store, L->o->campaign, STORE_LOCK_LAUNCH, L->run_id);
}

static int open_store(struct launch *L)
{
    char err[512];
    L->store = store_open_config(L->cfg, err, sizeof err);
    if (!L->store) {
        cmd_error("%s", err);
        return -1;
    }
    int rc = store_campaign_create(L->store, L->o->campaign, clock_wall_ms());
    if (rc < 0) {
        cmd_error("redis: %s", store_error(L->store));
        return -1;
    }
    if (rc == 1 && !L->o->resume) {
        cmd_error("campaign \"%s\" already exists; use --resume to enqueue its contacts that are "
                  "not done yet", L->o->campaign);
        return -1;
    }
    snprintf(L->run_id, sizeof L->run_id, "%lld-%d", (long long)clock_wall_ms(), (int)getpid());
    if (take_lock(L) != 0)
        return -1;
    if (rc == 0) /* created, and locked before any reserve: only this run writes contact states */
        L->met = bloom_new(25); /* 4 MiB */
    store_campaign_set(L->store, L->o->campaign, "launch_state", "launching");
    save_launch_settings(L);
    L->acker = acker_start(config_get(L->cfg, "redis.url"), (int)config_int(L->cfg, "redis.connect_timeout_ms"),
                           L->o->campaign, L->run_id, err, sizeof err);
    if (!L->acker) {
        cmd_error("%s", err);
        return -1;
    }
    return 0;
}

static void say_provider(void *ctx, enum voicecheck_level level, const char *line)
{
    (void)ctx;
    fprintf(stderr, "voxcast: %s%s\n", level == VOICECHECK_WARN ? "warning: " : "", line);
}

/* Given the consumers' configuration, says what each provider makes of --voice and --model (a
 * warning where the campaign's choice is lost); a malformed map is a configuration error even
 * without them, since no consumer would start with it. */
static int check_voice(struct launch *L)
{
    if (!voicecheck_configured(L->cfg))
        return 0;
    char err[512];
    if (voicecheck_run(L->cfg, L->o->voice, L->o->model, say_provider, NULL, err, sizeof err) != 0) {
        cmd_error("%s", err);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- rows */

static const char *row_slot(void *ctx, size_t slot, size_t *len)
{
    struct launch *L = ctx;
    return contacts_slot(L->src, slot, len);
}

static void reject(struct launch *L, long line, const char *id, size_t id_len, const char *reason)
{
    L->rejected++;
    rejects_add(L->rej, line, id, id_len, reason);
}

/* --dry-run: adds the row's spoken requests to what providers would bill. Voice, lang, format and
 * model are the campaign's, so two requests are identical when their texts are: each distinct
 * text is billed once (the render-once cache), or every text with --no-dedup. */
static void count_billed(struct launch *L)
{
    for (size_t i = 0; i < jobbuild_nrequests(L->jb); i++) {
        size_t len;
        const char *text = jobbuild_request(L->jb, i, &len);
        bool fresh = idset_add(L->texts, text, len);
        L->unique_texts += fresh;
        if (fresh || L->o->no_dedup)
            L->characters += (int64_t)utf8_count(text, len);
    }
}

/* Validates the current row and appends its job to the chunk; a bad row becomes a reject. The
 * chunk keeps offsets into its buffers (ids, payloads), never pointers: both grow row by row. */
static void take_row(struct launch *L)
{
    long line = contacts_line(L->src);
    char reason[200];
    size_t id_len;
    int ok = jobbuild_row(L->jb, row_slot, L, reason, sizeof reason);
    const char *id = jobbuild_id(L->jb, &id_len);
    if (ok != 0)
        return reject(L, line, id, id_len, reason);
    if (L->seen && !idset_add(L->seen, id, id_len))
        return reject(L, line, id, id_len, "repeated contact id");
    if (L->texts)
        count_billed(L);
    struct chunk *c = L->fill;
    struct pending_job *pj = &c->jobs[c->njobs++];
    pj->line = line;
    pj->id_off = c->ids.len;
    pj->id_len = id_len;
    buf_append(&c->ids, id, id_len);
    pj->json_off = c->payloads.len;
    jobbuild_encode(L->jb, row_slot, L, &c->payloads);
    pj->json_len = c->payloads.len - pj->json_off;
}

/* Produces one job, waiting for queue room (serving delivery reports) when librdkafka is full.
 * The report will carry the chunk and whether the contact was EXISTING (on_delivery). */
static int produce_one(struct launch *L, const struct chunk *c, const struct pending_job *pj, bool existing)
{
    void *job = (void *)((uintptr_t)c->seq << 1 | (existing ? 1u : 0u));
    rd_kafka_resp_err_t e = sender_produce(L->rk, L->rkt, c->payloads.data + pj->json_off, pj->json_len,
                                           c->ids.data + pj->id_off, pj->id_len, job);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cmd_error("kafka: cannot enqueue: %s", rd_kafka_err2str(e));
        return -1;
    }
    L->produced++;
    return 0;
}

/* Writes the chunk's reservations to Redis without waiting for the answer. */
static int reserve_chunk(struct launch *L, struct chunk *c)
{
    store_batch_reset(c->reserve);
    c->seq = ++L->last_seq;
    for (size_t i = 0; i < c->njobs; i++) {
        const char *id = c->ids.data + c->jobs[i].id_off;
        size_t len = c->jobs[i].id_len;
        if (L->met && bloom_add(L->met, id, len)) /* certainly new: Redis need not look */
            store_batch_reserve_new(c->reserve, L->o->campaign, L->run_id, c->seq, id, len);
        else
            store_batch_reserve_chunk(c->reserve, L->o->campaign, L->run_id, c->seq, id, len);
    }
    if (store_batch_send(L->store, c->reserve) == 0) {
        c->state = CHUNK_SENT;
        return 0;
    }
    if (store_batch_exec(L->store, c->reserve) != 0) { /* the send failed: retry it whole */
        cmd_error("redis: reserving contacts: %s", store_error(L->store));
        return -1;
    }
    c->state = CHUNK_RESERVED;
    return 0;
}

/* Records the rejects counted since the last call (the store must have no batch in flight). */
static int record_rejects(struct launch *L)
{
    if (L->rejected == L->rejected_recorded)
        return 0;
    if (store_campaign_add_rejected(L->store, L->o->campaign, L->rejected - L->rejected_recorded) != 0) {
        cmd_error("redis: counting rejects: %s", store_error(L->store));
        return -1;
    }
    L->rejected_recorded = L->rejected;
    return 0;
}

/* Reads a sent chunk's reservations; a failed read retries the batch, exactly. */
static int collect_chunk(struct launch *L, struct chunk *c)
{
    if (c->state != CHUNK_SENT)
        return 0;
    if (store_batch_wait(L->store, c->reserve) != 0 && store_batch_exec(L->store, c->reserve) != 0) {
        cmd_error("redis: reserving contacts: %s", store_error(L->store));
        return -1;
    }
    c->state = CHUNK_RESERVED;
    return 0;
}

/* Produces the jobs of a collected chunk's reserved contacts and empties the chunk. After a
 * failed produce the rest are reported failed at once, so the chunk's acknowledgement, which
 * comes once every job is accounted for, never counts a job that was not produced. */
static int produce_chunk(struct launch *L, struct chunk *c)
{
    int rc = 0;
    size_t accounted = 0;
    for (size_t i = 0; c->state != CHUNK_FILLING && i < c->njobs; i++) {
        const struct pending_job *pj = &c->jobs[i];
        const char *id = c->ids.data + pj->id_off;
        enum store_result r = store_batch_result(c->reserve, i);
        if (r == STORE_REPEATED) {
            reject(L, pj->line, id, pj->id_len, "repeated contact id");
            continue;
        }
        if (r == STORE_ALREADY_DONE) {
            L->already_done++;
            continue;
        }
        if (rc != 0 || produce_one(L, c, pj, r == STORE_EXISTING) != 0) {
            rc = -1;
            acker_add(L->acker, c->seq, id, pj->id_len, r == STORE_EXISTING, false);
        }
        accounted++;
    }
    if (c->state != CHUNK_FILLING)
        acker_sealed(L->acker, c->seq, accounted);
    chunk_empty(c);
    rd_kafka_poll(L->rk, 0);
    return rc;
}

static void draw_progress(struct launch *L, bool force)
{
    char text[160];
    double secs = (clock_mono_ms() - L->bar.started_ms) / 1000.0;
    snprintf(text, sizeof text, "%lld enqueued, %lld rejected, %.0f/s", (long long)L->enqueued,
             (long long)L->rejected, secs > 0 ? (double)L->produced / secs : 0.0);
    progress_draw(&L->bar, (double)contacts_bytes_read(L->src), (double)contacts_bytes_total(L->src),
                  text, force);
}

/* The fill chunk is full (or the file ended): collect the chunk Redis reserved meanwhile, send
 * this one's reservations, produce the collected one while Redis works, and fill it next. At
 * the end, produce the last one too. Redis, the critical path, never waits for Kafka. */
static int flush_chunk(struct launch *L, bool last)
{
    struct chunk *c = L->fill, *other = c == &L->chunks[0] ? &L->chunks[1] : &L->chunks[0];
    int rc = 0;
    if (L->o->dry_run) {
        L->enqueued += (int64_t)c->njobs; /* what would be enqueued */
        chunk_empty(c);
    } else {
        rc = collect_chunk(L, other);
        if (rc == 0)
            rc = record_rejects(L);
        if (rc == 0)
            rc = keep_lock(L);
        if (rc == 0 && c->njobs > 0)
            rc = reserve_chunk(L, c);
        if (rc == 0)
            rc = produce_chunk(L, other);
        if (rc == 0 && last)
            rc = collect_chunk(L, c) == 0 && produce_chunk(L, c) == 0 ? record_rejects(L) : -1;
        L->fill = other;
    }
    draw_progress(L, false);
    return rc;
}

static int read_rows(struct launch *L)
{
    char err[512];
    for (;;) {
        bool fatal;
        int rc = contacts_next(L->src, err, sizeof err, &fatal);
        if (rc == 0)
            break;
        if (rc < 0 && fatal) {
            cmd_error("%s: %s", L->o->contacts, err);
            return -1;
        }
        if (rc < 0)
            reject(L, contacts_line(L->src), "", 0, err);
        else
            take_row(L);
        if (L->fill->njobs == CHUNK && flush_chunk(L, false) != 0)
            return -1;
    }
    return flush_chunk(L, true);
}

/* ---------------------------------------------------------------- finish */

/* sender_tick_fn while waiting for acks: progress, and the lock (lost: stop waiting). */
static int ack_tick(void *ctx)
{
    struct launch *L = ctx;
    draw_progress(L, false);
    if (keep_lock(L) == 0)
        return 0;
    L->lock_failed = true;
    return 1;
}

static int wait_for_acks(struct launch *L)
{
    int64_t timeout = config_int(L->cfg, "launch.ack_timeout_ms");   /* any size: 64-bit */
    int64_t deadline = clock_mono_ms() + (timeout < INT64_MAX / 2 ? timeout : INT64_MAX / 2);
    /* what is left is given up: the failure reports of the purged jobs unreserve them */
    int left = sender_drain(L->rk, deadline, 1000, ack_tick, L);
    if (L->lock_failed)
        return -1;
    char err[512];
    int acked = acker_finish(L->acker, err, sizeof err);
    L->acker = NULL;
    if (acked != 0) {
        cmd_error("%s", err);
        return -1;
    }
    if (left > 0) {
        cmd_error("kafka: %d jobs not acknowledged after %" PRId64 " ms; run the launch again with --resume", left, timeout);
        return -1;
    }
    if (L->failed > 0) {
        cmd_error("kafka: %lld jobs were not delivered (%s); run the launch again with --resume",
                  (long long)L->failed, L->delivery_error);
        return -1;
    }
    return store_campaign_set(L->store, L->o->campaign, "launch_state", "launched") == 0 ? 0 : -1;
}

static void report(struct launch *L, double elapsed_s)
{
    if (L->o->json) {
        printf("{\"campaign\":\"%s\",\"enqueued\":%lld,\"rejected\":%lld,\"already_done\":%lld,"
               "\"dry_run\":%s,\"priority\":\"%s\",", L->o->campaign, (long long)L->enqueued,
               (long long)L->rejected, (long long)L->already_done, L->o->dry_run ? "true" : "false",
               job_priority_name(L->o->priority));
        if (L->o->dry_run)
            printf("\"unique_texts\":%lld,\"characters\":%lld,", (long long)L->unique_texts,
                   (long long)L->characters);
        printf("\"elapsed_s\":%.3f}\n", elapsed_s);
        return;
    }
    printf("%s campaign %s: %lld enqueued, %lld rejected%s%s%s", L->o->dry_run ? "dry run of" : "launched",
           L->o->campaign, (long long)L->enqueued, (long long)L->rejected,
           L->o->rejects && L->rejected ? " (see " : "", L->o->rejects && L->rejected ? L->o->rejects : "",
           L->o->rejects && L->rejected ? ")" : "");
    if (L->already_done)
        printf(", %lld already done", (long long)L->already_done);
    printf(" in %.2f s\n", elapsed_s);
    if (L->o->dry_run)
        printf("to bill: %lld unique texts, %lld characters%s\n", (long long)L->unique_texts,
               (long long)L->characters, L->o->no_dedup ? " (--no-dedup: every contact's text)" : "");
}

static void launch_close(struct launch *L)
{
    jobbuild_free(L->jb);
    for (size_t i = 0; i < L->o->nvariants; i++)
        template_free(L->var_tpl[i]);
    idset_free(L->texts);
    template_free(L->tpl);
    free(L->template_text);
    contacts_free(L->src);
    rejects_close(L->rej);
    char err[512];
    acker_finish(L->acker, err, sizeof err); /* an aborted launch: its error was reported */
    for (int i = 0; i < 2; i++) {
        store_batch_free(L->chunks[i].reserve);
        buf_free(&L->chunks[i].ids);
        buf_free(&L->chunks[i].payloads);
    }
    idset_free(L->seen);
    bloom_free(L->met);
    if (L->rkt)
        rd_kafka_topic_destroy(L->rkt);
    if (L->rk)
        rd_kafka_destroy(L->rk);
    release_lock(L);
    store_close(L->store);
}

static int launch_run(struct launch *L)
{
    char err[512];
    int64_t start = clock_mono_ms();
    if (open_template(L) != 0)
        return EXIT_USAGE;
    L->src = contacts_open(L->o->contacts, err, sizeof err);
    if (!L->src) {
        cmd_error("%s", err);
        return EXIT_USAGE;
    }
    if (bind_columns(L) != 0 || check_voice(L) != 0)
        return EXIT_USAGE;
    L->rej = rejects_open(L->o->rejects, err, sizeof err);
    if (L->o->rejects && !L->rej) {
        cmd_error("%s", err);
        return EXIT_USAGE;
    }
    if (L->o->dry_run) {
        L->seen = idset_new();
        L->texts = idset_new();
    }
    else if (open_kafka(L) != 0 || open_store(L) != 0) /* Kafka first: a refused launch leaves no record */
        return EXIT_RUNTIME;
    progress_init(&L->bar, stderr, !L->o->json);
    if (read_rows(L) != 0 || (!L->o->dry_run && wait_for_acks(L) != 0)) {
        progress_done(&L->bar);
        return EXIT_RUNTIME;
    }
    draw_progress(L, true);
    progress_done(&L->bar);
    report(L, (clock_mono_ms() - start) / 1000.0);
    return EXIT_OK;
}

/* Runs one launch (or reconcile) with checked options; returns the exit status. */
static int launch_with(const struct launch_opts *o, const struct config *cfg)
{
    struct launch *L = xcalloc(1, sizeof *L);
    L->o = o;
    L->cfg = cfg;
    for (int i = 0; i < 2; i++)
        L->chunks[i].reserve = store_batch_new();
    L->fill = &L->chunks[0];
    int rc = launch_run(L);
    launch_close(L);
    free(L);
    return rc;
}

int cmd_launch(int argc, char **argv, const struct config *cfg)
{
    struct launch_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (o.force) {
        cmd_error("launch: --force is an option of reconcile");
        return EXIT_USAGE;
    }
    if (check_opts(&o) != 0)
        return EXIT_USAGE;
    return launch_with(&o, cfg);
}

/* ---------------------------------------------------------------- reconcile */

static void reconcile_usage(FILE *out)
{
    fputs("usage: voxcast reconcile --campaign ID --contacts FILE [--rejects FILE] [--force] [--dry-run]\n"
          "                         [--json]\n\n"
          "Enqueues again every contact of FILE that is not done, with the template (or variants),\n"
          "id column, voice, language, model, format, meta columns, priority, deadline and dedup\n"
          "choice the campaign was launched with. For jobs that vanished from Kafka (the embedded\n"
          "broker keeps ~5 MiB per partition; consumers log \"offset gap\"): contacts still pending\n"
          "get a new job, done ones are skipped, counts stay exact. A cancelled campaign is skipped\n"
          "(saying so, exit 0) unless --force.\n\n"
          "example:\n"
          "  voxcast reconcile --campaign spring-promo --contacts contacts.csv\n", out);
}

#define NSETTINGS 12 /* saved by save_launch_settings */

/* Loads the launch settings saved in the campaign record into o (strings owned by *keep). */
static int load_settings(const struct config *cfg, struct launch_opts *o, char *keep[NSETTINGS])
{
    char err[512];
    struct store *s = store_open_config(cfg, err, sizeof err);
    if (!s) {
        cmd_error("%s", err);
        return EXIT_RUNTIME;
    }
    const char *names[NSETTINGS] = {"template", "id_column", "format", "voice", "lang",
                                    "contacts_file", "model", "meta_columns", "priority",
                                    "expires_at", "dedup", "variants"};
    int rc = EXIT_OK;
    for (int i = 0; i < NSETTINGS && rc == EXIT_OK; i++)
        if (store_campaign_field(s, o->campaign, names[i], &keep[i]) < 0) {
            cmd_error("redis: %s", store_error(s));
            rc = EXIT_RUNTIME;
        }
    store_close(s);
    if (rc == EXIT_OK && !keep[0]) {
        cmd_error("reconcile: campaign \"%s\" has no saved launch settings (was it launched?)", o->campaign);
        return EXIT_RUNTIME;
    }
    o->template_text = keep[0];
    o->id_column = keep[1] ? keep[1] : "contact_id";
    o->format = keep[2] ? keep[2] : "wav";
    o->voice = keep[3];
    o->lang = keep[4];
    o->model = keep[6];
    if (keep[8] && job_priority_parse(keep[8], &o->priority) != 0)
        o->priority = JOB_PRIORITY_NORMAL;
    o->no_dedup = keep[10] && strcmp(keep[10], "false") == 0;
    return rc;
}

/* The variants the campaign was launched with (a JSON array of [name, template]) into o; returns
 * the parsed array, which owns the templates (NULL when there were none). The job's text is the
 * first variant's, so the saved template is not used then. */
static json_t *load_variants(const char *saved, struct launch_opts *o)
{
    json_t *all = saved ? json_loads(saved, 0, NULL) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v) {
        const char *name = json_string_value(json_array_get(v, 0));
        const char *text = json_string_value(json_array_get(v, 1));
        if (name && text && o->nvariants < JOB_VARIANTS_MAX) {
            struct variant_opt *vo = &o->variants[o->nvariants++];
            snprintf(vo->name, sizeof vo->name, "%s", name);
            vo->template_text = text;
        }
    }
    if (o->nvariants > 0)
        o->template_text = NULL;
    return all;
}

/* Whether reconcile may go on: not for a cancelled campaign without --force (said on stdout).
 * EXIT_OK go on, 1 skip, EXIT_RUNTIME Redis failed (printed). */
static int cancelled_gate(const struct config *cfg, const struct launch_opts *o)
{
    char err[512];
    struct store *s = store_open_config(cfg, err, sizeof err);
    if (!s) {
        cmd_error("%s", err);
        return EXIT_RUNTIME;
    }
    struct campaign_info ci;
    int rc = store_campaign_get(s, o->campaign, &ci);
    if (rc < 0)
        cmd_error("redis: %s", store_error(s));
    store_close(s);
    if (rc < 0)
        return EXIT_RUNTIME;
    if (rc != 0 || ci.control != STORE_CONTROL_CANCELLED)
        return EXIT_OK;
    if (o->force) {
        printf("campaign %s is cancelled; --force: enqueueing its contacts that are not done\n", o->campaign);
        return EXIT_OK;
    }
    printf("campaign %s is cancelled: skipped, nothing enqueued (--force enqueues it anyway)\n", o->campaign);
    return 1;
}

/* The --meta columns the campaign was launched with (saved as a JSON array) into o; returns the
 * parsed array, which owns the names (NULL when there were none). */
static json_t *load_meta_columns(const char *saved, struct launch_opts *o)
{
    json_t *cols = saved ? json_loads(saved, 0, NULL) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(cols, i, v)
        if (json_is_string(v) && o->nmeta < MAX_META)
            o->meta[o->nmeta++] = json_string_value(v);
    return cols;
}

int cmd_reconcile(int argc, char **argv, const struct config *cfg)
{
    struct launch_opts o;
    if (cmd_wants_help(argc, argv)) {
        reconcile_usage(stdout);
        return EXIT_OK;
    }
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return EXIT_USAGE;
    if (!o.campaign || !o.contacts || o.template_text || o.template_file || o.nvariants ||
        o.priority_name || o.ttl || o.expires_at || o.no_dedup) {
        cmd_error("reconcile: give --campaign and --contacts (the template, variants, priority, "
                  "deadline and dedup come from the campaign)");
        return EXIT_USAGE;
    }
    if (!job_campaign_valid(o.campaign)) {
        cmd_error("reconcile: campaign \"%s\" must be 1-64 of [A-Za-z0-9._-]", o.campaign);
        return EXIT_USAGE;
    }
    if (!o.dry_run) {
        rc = cancelled_gate(cfg, &o);
        if (rc != EXIT_OK)
            return rc == 1 ? EXIT_OK : rc;
    }
    char *keep[NSETTINGS] = {0};
    json_t *meta = NULL, *variants = NULL;
    rc = load_settings(cfg, &o, keep);
    o.resume = true;
    if (rc == EXIT_OK && o.nmeta == 0)
        meta = load_meta_columns(keep[7], &o);
    if (rc == EXIT_OK)
        variants = load_variants(keep[11], &o);
    if (rc == EXIT_OK && check_opts(&o) != 0)
        rc = EXIT_USAGE;
    int64_t expires_ms; /* the launch's deadline as it was, even if it passed */
    if (rc == EXIT_OK && keep[9] && timefmt_parse_rfc3339(keep[9], &expires_ms) == 0)
        o.expires_at_ms = expires_ms;
    if (rc == EXIT_OK)
        rc = launch_with(&o, cfg);
    json_decref(meta);
    json_decref(variants);
    for (int i = 0; i < NSETTINGS; i++)
        free(keep[i]);
    return rc;
}
