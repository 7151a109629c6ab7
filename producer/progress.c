/* progress.c - terminal progress bar; see progress.h. */
#include "progress.h"

#include <unistd.h>

#include "clock.h"

#define BAR_WIDTH 30

void progress_init(struct progress *p, FILE *out, bool enabled)
{
    p->out = out;
    p->tty = isatty(fileno(out)) == 1;
    p->enabled = enabled;
    p->started_ms = clock_mono_ms();
    p->last_draw_ms = 0;
    p->last_plain_ms = p->started_ms;
}

void progress_draw(struct progress *p, double done, double total, const char *text, bool force)
{
    if (!p->enabled)
        return;
    int64_t now = clock_mono_ms();
    /* a terminal redraws often; a log file gets a line every 5 s at most */
    if (!force && now - (p->tty ? p->last_draw_ms : p->last_plain_ms) < (p->tty ? 100 : 5000))
        return;
    p->last_draw_ms = p->last_plain_ms = now;
    char bar[BAR_WIDTH + 1] = {0};
    if (total > 0) {
        double f = done / total;
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        int fill = (int)(f * BAR_WIDTH);
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '-';
        fprintf(p->out, "%s[%s] %5.1f%%  %s%s", p->tty ? "\r" : "", bar, f * 100, text,
                p->tty ? "\033[K" : "\n");
    } else {
        fprintf(p->out, "%s%s%s", p->tty ? "\r" : "", text, p->tty ? "\033[K" : "\n");
    }
    fflush(p->out);
}

void progress_done(struct progress *p)
{
    if (p->enabled && p->tty) {
        fputc('\n', p->out);
        fflush(p->out);
    }
}

void progress_duration(double seconds, char out[32])
{
    unsigned s = seconds <= 0 ? 0 : seconds > 3.6e8 ? 360000000u : (unsigned)(seconds + 0.5);
    if (s >= 3600)
        snprintf(out, 32, "%uh%02um", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, 32, "%um%02us", s / 60, s % 60);
    else
        snprintf(out, 32, "%us", s);
}
