/* dlq_list.c - `voxcast dlq list` and `voxcast dlq show`: reading the dead-letter queue.
 *
 * A DLQ may hold millions of entries, so listing never reads more than it prints: the store
 * reads bounded windows newest first, a page is --offset/--limit, and the table is printed a
 * chunk of rows at a time (column widths come from the first chunk). A --reason filter is
 * applied here, while the store streams, and stops reading as soon as the page is full. The
 * summary under the table tallies the entries shown, by reason and by HTTP status, because
 * "what failed and how" is what an operator reads the DLQ for; the total waiting comes from a
 * counter, not from a scan. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "cmd.h"
#include "dlq.h"
#include "xalloc.h"

#define LIST_DEFAULT_LIMIT 100 /* table rows when --limit is not given */
#define TABLE_CHUNK        200 /* rows buffered to size the columns */
#define TALLY_SLOTS        16  /* distinct labels per summary line; the rest count as "other" */
#define CELL_MAX           512 /* bytes of one cell before truncation */

struct list_opts {
    const char *campaign, *reason;
    int64_t     limit, offset;
    bool        limit_given, json;
};

/* ---------------------------------------------------------------- summary tallies */

struct tally_slot {
    char    label[32];
    int64_t n;
};

struct tally {
    struct tally_slot slot[TALLY_SLOTS];
    size_t            used;
};

static void tally_add(struct tally *t, const char *label)
{
    for (size_t i = 0; i < t->used; i++) {
        if (strcmp(t->slot[i].label, label) == 0) {
            t->slot[i].n++;
            return;
        }
    }
    if (t->used == TALLY_SLOTS - 1 && strcmp(label, "other") != 0) {
        tally_add(t, "other");
        return;
    }
    snprintf(t->slot[t->used].label, sizeof t->slot[0].label, "%s", label);
    t->slot[t->used++].n = 1;
}

static int by_count(const void *a, const void *b)
{
    const struct tally_slot *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return strcmp(x->label, y->label);
}

/* "by reason:      retry_exhausted 30, non_retryable 10", most frequent first. */
static void tally_print(struct tally *t, const char *title)
{
    qsort(t->slot, t->used, sizeof t->slot[0], by_count);
    printf("%-16s", title);
    for (size_t i = 0; i < t->used; i++)
        printf("%s%s %lld", i ? ", " : "", t->slot[i].label, (long long)t->slot[i].n);
    putchar('\n');
}

/* ---------------------------------------------------------------- table */

enum { COL_ID, COL_CAMPAIGN, COL_CONTACT, COL_REASON, COL_STATUS, COL_PROVIDER, COL_FAILED_AT,
       COL_ERROR, NCOLS };

static const char *const col_title[NCOLS] = {"ID", "CAMPAIGN", "CONTACT", "REASON", "STATUS",
                                             "PROVIDER", "FAILED_AT", "ERROR"};
/* Widest a column may grow (code points); 0: never cut (an id must stay usable with show). */
static const int col_cap[NCOLS] = {0, 24, 32, 15, 6, 14, 20, 60};

struct table {
    char  *cell[TABLE_CHUNK][NCOLS]; /* owned, sanitised */
    size_t rows;
    int    width[NCOLS];
    bool   sized;                    /* widths fixed and header printed */
};

/* Copies text into a cell: control characters become '?', and past `cap` code points (0: no
 * cap) it is cut on a character boundary with "..." appended. */
static char *cell_new(const char *text, int cap)
{
    struct buf b = {0};
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && b.len < CELL_MAX; p++) {
        bool lead = (*p & 0xC0) != 0x80;
        if (lead && cap > 0 && chars == cap) {
            if (b.len >= 3) /* keep the width: the dots replace the last characters */
                b.len -= 3;
            while (b.len > 0 && ((unsigned char)b.data[b.len] & 0xC0) == 0x80)
                b.len--;
            b.data[b.len] = '\0';
            buf_puts(&b, "...");
            break;
        }
        chars += lead;
        buf_putc(&b, *p < 0x20 || *p == 0x7F ? '?' : (char)*p);
    }
    if (!b.data)
        buf_puts(&b, "");
    return buf_steal(&b);
}

/* Display width of a cell: its code points. */
static int cell_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void cell_print(const char *s, int width, bool last)
{
    fputs(s, stdout);
    if (last)
        return;
    for (int pad = width - cell_width(s); pad > 0; pad--)
        putchar(' ');
    fputs("  ", stdout);
}

static void table_flush(struct table *t)
{
    if (!t->sized) {
        for (int c = 0; c < NCOLS; c++) {
            t->width[c] = cell_width(col_title[c]);
            for (size_t r = 0; r < t->rows; r++) {
                int w = cell_width(t->cell[r][c]);
                t->width[c] = w > t->width[c] ? w : t->width[c];
            }
        }
        for (int c = 0; c < NCOLS; c++)
            cell_print(col_title[c], t->width[c], c == NCOLS - 1);
        putchar('\n');
        t->sized = true;
    }
    for (size_t r = 0; r < t->rows; r++) {
        for (int c = 0; c < NCOLS; c++) {
            cell_print(t->cell[r][c], t->width[c], c == NCOLS - 1);
            free(t->cell[r][c]);
        }
        putchar('\n');
    }
    t->rows = 0;
}

/* "2026-11-22T18:00:00Z" from the entry's failed_at (ISO string without its fraction, or epoch
 * ms), "-" when it has none. */
static void failed_at_text(json_t *v, char out[40])
{
    if (json_is_integer(v)) {
        clock_iso8601(json_integer_value(v), out);
    } else if (json_is_string(v)) {
        snprintf(out, 40, "%s", json_string_value(v));
    } else {
        snprintf(out, 40, "-");
        return;
    }
    char *dot = strchr(out, '.');
    if (dot) {
        char *rest = dot + 1;
        while (*rest >= '0' && *rest <= '9')
            rest++;
        memmove(dot, rest, strlen(rest) + 1);
    }
}

static const char *str_or_dash(json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s ? s : "-";
}

static void table_add(struct table *t, json_t *e)
{
    char status[24] = "-", at[40];
    json_t *hs = json_object_get(e, "http_status");
    if (json_is_integer(hs))
        snprintf(status, sizeof status, "%lld", (long long)json_integer_value(hs));
    failed_at_text(json_object_get(e, "failed_at"), at);
    const char *text[NCOLS] = {
        [COL_ID] = str_or_dash(json_object_get(e, "id")),
        [COL_CAMPAIGN] = str_or_dash(json_object_get(e, "campaign")),
        [COL_CONTACT] = str_or_dash(json_object_get(e, "contact")),
        [COL_REASON] = str_or_dash(json_object_get(e, "reason")),
        [COL_STATUS] = status,
        [COL_PROVIDER] = str_or_dash(json_object_get(e, "provider")),
        [COL_FAILED_AT] = at,
        [COL_ERROR] = str_or_dash(json_object_get(e, "error")),
    };
    for (int c = 0; c < NCOLS; c++)
        t->cell[t->rows][c] = cell_new(text[c], col_cap[c]);
    if (++t->rows == TABLE_CHUNK)
        table_flush(t);
}

/* ---------------------------------------------------------------- listing */

struct lister {
    const struct list_opts *o;
    int64_t                 want;    /* entries to print; 0: all */
    int64_t                 skip;    /* matching entries still to skip (--reason only) */
    int64_t                 shown;
    bool                    more;    /* an entry beyond the page exists */
    struct table            table;
    struct tally            reasons, statuses;
};

static bool matches(const struct list_opts *o, json_t *e)
{
    const char *reason = json_string_value(json_object_get(e, "reason"));
    return !o->reason || (reason && strcmp(reason, o->reason) == 0);
}

static void show_entry(struct lister *L, json_t *e)
{
    L->shown++;
    if (L->o->json) {
        char *text = json_dumps(e, JSON_COMPACT);
        if (text)
            puts(text);
        free(text);
        return;
    }
    table_add(&L->table, e);
    const char *reason = json_string_value(json_object_get(e, "reason"));
    tally_add(&L->reasons, reason && *reason ? reason : "unknown");
    json_t *hs = json_object_get(e, "http_status");
    char status[24] = "none";
    if (json_is_integer(hs))
        snprintf(status, sizeof status, "%lld", (long long)json_integer_value(hs));
    tally_add(&L->statuses, status);
}

/* store_dlq_fn: filters, skips the offset of a filtered listing, prints, and stops one entry
 * past the page (that entry only tells that there is more). */
static int on_entry(void *ctx, const char *id, const char *entry_json)
{
    struct lister *L = ctx;
    json_t *e = dlq_entry_with_id(id, entry_json);
    int stop = 0;
    if (!matches(L->o, e)) {
        /* not ours */
    } else if (L->skip > 0) {
        L->skip--;
    } else if (L->want > 0 && L->shown == L->want) {
        L->more = true;
        stop = 1;
    } else {
        show_entry(L, e);
    }
    json_decref(e);
    return stop;
}

static void print_summary(struct lister *L, int64_t waiting)
{
    const struct list_opts *o = L->o;
    char where[96] = "";
    if (o->campaign)
        snprintf(where, sizeof where, " of %s", o->campaign);
    if (L->shown == 0) {
        printf("no %s%sDLQ entries%s%s\n", o->reason ? o->reason : "", o->reason ? " " : "", where,
               o->offset ? " at this offset" : "");
    } else {
        printf("\n%lld %s%sentr%s shown (newest first, from offset %lld); %lld waiting in the DLQ%s\n",
               (long long)L->shown, o->reason ? o->reason : "", o->reason ? " " : "",
               L->shown == 1 ? "y" : "ies", (long long)o->offset, (long long)waiting, where);
        tally_print(&L->reasons, "by reason:");
        tally_print(&L->statuses, "by http status:");
    }
    if (L->more)
        printf("more: --offset %lld\n", (long long)(o->offset + L->shown));
}

void dlq_list_usage(FILE *out)
{
    fputs("usage: voxcast dlq list [--campaign ID] [--reason R] [--limit N] [--offset N] [--json]\n\n"
          "Lists DLQ entries newest first: a table (id, campaign, contact, reason, HTTP status,\n"
          "provider, failed_at, error) and a summary of the entries shown by reason and by HTTP\n"
          "status. Without --campaign, every campaign's entries are merged by failed_at. Only the\n"
          "requested page is read, so a DLQ of millions lists at once.\n\n"
          "  --campaign ID   one campaign (\"_invalid\" holds messages that were not valid jobs)\n"
          "  --reason R      only retry_exhausted, non_retryable or invalid_job entries\n"
          "  --limit N       at most N entries (default 100 for the table, all with --json;\n"
          "                  0: all)\n"
          "  --offset N      skip the N newest (matching) entries first\n"
          "  --json          one JSON object per line: the entry as the consumer wrote it, with\n"
          "                  its \"id\" first (the id `dlq show` takes)\n\n"
          "examples:\n"
          "  voxcast dlq list --campaign spring-promo --reason retry_exhausted --limit 20\n"
          "  voxcast dlq list --json --limit 0 | jq -r 'select(.http_status == 400) | .contact'\n",
          out);
}

static int parse_list(int argc, char **argv, struct list_opts *o)
{
    static const struct option longopts[] = {
        {"campaign", required_argument, NULL, 'C'}, {"reason", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'l'}, {"offset", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    *o = (struct list_opts){0};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'C': o->campaign = optarg; break;
        case 'r': o->reason = optarg; break;
        case 'l':
            if (dlq_parse_count("list", "limit", optarg, &o->limit) != 0)
                return -1;
            o->limit_given = true;
            break;
        case 'o':
            if (dlq_parse_count("list", "offset", optarg, &o->offset) != 0)
                return -1;
            break;
        case 'j': o->json = true; break;
        case 'h': dlq_list_usage(stdout); return 1;
        default: dlq_list_usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        cmd_error("dlq list: unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    if (o->campaign && dlq_check_campaign("list", o->campaign) != 0)
        return -1;
    if (o->reason && strcmp(o->reason, "retry_exhausted") != 0 && strcmp(o->reason, "non_retryable") != 0 &&
        strcmp(o->reason, "invalid_job") != 0) {
        cmd_error("dlq list: --reason must be retry_exhausted, non_retryable or invalid_job, not \"%s\"",
                  o->reason);
        return -1;
    }
    if (!o->limit_given && !o->json)
        o->limit = LIST_DEFAULT_LIMIT;
    return 0;
}

/* Reads the page: with a filter the store streams from the newest entry and on_entry does the
 * skipping; without one the store skips (cheaply for one campaign). One extra entry is asked
 * for to learn whether there is a next page. */
static int read_page(struct store *s, struct lister *L)
{
    const struct list_opts *o = L->o;
    if (o->reason) {
        L->skip = o->offset;
        return store_dlq_list(s, o->campaign, 0, 0, on_entry, L);
    }
    return store_dlq_list(s, o->campaign, (size_t)o->offset, o->limit ? (size_t)o->limit + 1 : 0,
                          on_entry, L);
}

int dlq_list(int argc, char **argv, const struct config *cfg)
{
    struct list_opts o;
    int rc = parse_list(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    struct store *s = dlq_open_store(cfg);
    if (!s)
        return EXIT_RUNTIME;
    struct lister *L = xcalloc(1, sizeof *L);
    L->o = &o;
    L->want = o.limit;
    rc = EXIT_OK;
    int64_t waiting = 0;
    if (read_page(s, L) < 0 || (!o.json && (waiting = store_dlq_count(s, o.campaign)) < 0)) {
        cmd_error("redis: listing the DLQ: %s", store_error(s));
        rc = EXIT_RUNTIME;
    }
    if (!o.json && L->table.rows)
        table_flush(&L->table);
    if (rc == EXIT_OK && !o.json)
        print_summary(L, waiting);
    free(L);
    store_close(s);
    return rc;
}

/* ---------------------------------------------------------------- show */

void dlq_show_usage(FILE *out)
{
    fputs("usage: voxcast dlq show ID\n\n"
          "Prints one DLQ entry in full as indented JSON: the reason, the last error, every\n"
          "attempt's provider, status, class, error and latency (\"history\"), the Kafka partition\n"
          "and offset, and the job itself (or the raw message when it was not a valid job). IDs\n"
          "are CAMPAIGN:SEQ, as `voxcast dlq list` prints them. Exit 1 when there is no such entry.\n\n"
          "example:\n"
          "  voxcast dlq show spring-promo:42\n", out);
}

int dlq_show(int argc, char **argv, const struct config *cfg)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            dlq_show_usage(stdout);
            return EXIT_OK;
        }
        dlq_show_usage(stderr);
        return EXIT_USAGE;
    }
    if (argc - optind != 1) {
        cmd_error("dlq show: give exactly one entry ID (see voxcast dlq show --help)");
        return EXIT_USAGE;
    }
    const char *id = argv[optind];
    struct store *s = dlq_open_store(cfg);
    if (!s)
        return EXIT_RUNTIME;
    char *entry = NULL;
    int got = store_dlq_get(s, id, &entry);
    int rc = EXIT_OK;
    if (got < 0) {
        cmd_error("redis: reading DLQ entry %s: %s", id, store_error(s));
        rc = EXIT_RUNTIME;
    } else if (got == 1) {
        cmd_error("dlq: no entry %s", id);
        rc = EXIT_RUNTIME;
    } else {
        json_t *e = dlq_entry_with_id(id, entry);
        char *text = json_dumps(e, JSON_INDENT(2));
        if (text)
            puts(text);
        free(text);
        json_decref(e);
    }
    free(entry);
    store_close(s);
    return rc;
}
