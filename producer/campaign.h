/* campaign.h - what `voxcast campaign` and `voxcast status` both say about a campaign.
 *
 * A campaign's state is read, never stored: its control (store.h: running, paused, cancelled)
 * and its counts decide it, so `status` and `campaign list` cannot disagree. */
#ifndef VOXCAST_CAMPAIGN_H
#define VOXCAST_CAMPAIGN_H

#include <stdint.h>

#include "store.h"

/* enqueued - done - dlq - cancelled: contacts that still have a job to render (or set aside). */
int64_t campaign_pending(const struct campaign_info *ci);

/* True when its launch finished and nothing is pending. */
int campaign_is_complete(const struct campaign_info *ci);

/* "cancelled" (cancelled, whether or not its last jobs were counted yet), "complete", "paused"
 * or "running". */
const char *campaign_state(const struct campaign_info *ci);

#endif
