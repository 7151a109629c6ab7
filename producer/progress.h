/* progress.h - a progress bar redrawn in place on a terminal, plain lines elsewhere.
 *
 * Long commands (launch, status --watch, dlq replay) report through this one module so they
 * look alike. Redraws are throttled to ~10 per second; nothing is drawn when disabled. */
#ifndef VOXCAST_PROGRESS_H
#define VOXCAST_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct progress {
    FILE   *out;
    bool    tty;          /* redraw in place with \r */
    bool    enabled;
    int64_t started_ms, last_draw_ms;
    int64_t last_plain_ms;
};

/* enabled=false makes every call a no-op (--json, pipes when plain lines are unwanted). */
void progress_init(struct progress *p, FILE *out, bool enabled);
/* Draws "[#####-----]  45.0%  text" when total > 0, else just the text. Throttled unless force. */
void progress_draw(struct progress *p, double done, double total, const char *text, bool force);
void progress_done(struct progress *p);   /* ends the line on a terminal */
/* Formats an ETA/elapsed duration as "1h02m", "3m05s" or "12s" into out. */
void progress_duration(double seconds, char out[32]);

#endif
