/* parts.h - a job rendered as several requests: a long text's parts, a job's variants.
 *
 * Providers cap a request's text (provider_text_limit) and a job may ask for several variants
 * of its message (job.h "variants": one file per variant). Either way one Kafka job becomes
 * several renders, and each render is a child task: an ordinary task with its own copy of the
 * job (same campaign, contact, voice, lang, model, format, meta; text = the part or the
 * variant's text; no variants), so it goes through the normal attempt machinery - a
 * concurrency slot, its own retries, backoff, failover, account and breaker gates - and
 * the render-once cache looks a variant child up like a whole job (never a part: its job or
 * variant is the request).
 *
 * The tree is at most two levels deep:
 *   - a job with variants has one child per variant, in the job's order; a variant child whose
 *     text is over the limit has one child per part;
 *   - a job without variants whose text is over the limit has one child per part.
 * A text is split with textsplit() (sentence ends, then clauses, then spaces, never inside a
 * word or a UTF-8 sequence), every part at most the limit. The limit is the smallest among the
 * chain's providers that have one, so every part can fail over to any provider; a text within
 * it renders whole, and a provider that still answers "too long" is skipped as before.
 *
 * A child comes back to its parent once (parts_child_back) with its outcome: audio, or the DLQ.
 * The parent completes when every child is back: done when all are, else it takes the DLQ
 * outcome of the first child that failed for good, its error naming that child ("part 3 of 5:
 * ...", "variant voicemail: ..."), and the children still out are abandoned: detached as
 * orphans (the caller drops an orphan wherever it next meets it, never starts it), so the
 * parent need not wait for their retries. Children are joined in order: a parent's children
 * array is the join order (parts) and the file order (variants). A parent owns the children
 * that are back (task_free frees them with it); a child still out is owned by whatever list or
 * transfer holds it.
 *
 * Pure bookkeeping: no I/O, no engine state; the caller puts the children it gets into its
 * queues. Not thread-safe (the loop's thread). */
#ifndef VOXCAST_PARTS_H
#define VOXCAST_PARTS_H

#include <stdbool.h>
#include <stddef.h>

#include "task.h"

/* The most parts one text is split into; a text that would need more renders whole (and is
 * dead-lettered as "too long" if no provider takes it), so a tiny configured limit cannot turn
 * one job into thousands of requests. */
#define PARTS_MAX 64

/* Gives t its children (t->children, t->nchildren, t->pending) when it is rendered in several
 * requests: one per variant when its job has variants, else one per part when its text has
 * more than max_chars code points (max_chars 0: no limit). Returns how many children t has; 0
 * when it renders whole (a text within the limit, only white space, or needing more than
 * PARTS_MAX parts). A variant child is not split here: call parts_expand on it in turn. */
size_t parts_expand(struct task *t, size_t max_chars);

/* True when t renders whole as a child of another task (a part, or a variant not split). */
bool parts_is_child(const struct task *t);

/* A child's outcome is set (OUTCOME_DONE with audio, or OUTCOME_DLQ): hands it to its parent.
 * Returns the parent when the parent is now complete - every child back, its outcome set
 * (done, or the DLQ naming the child, the others abandoned) - and the caller finishes it (it
 * may be a child in turn); NULL while children are still out. */
struct task *parts_child_back(struct task *child);

/* Abandons every child of t that is still out (not back through parts_child_back: rendering,
 * or complete and not handed back yet, e.g. a variant written alone, cache.h), at any depth:
 * each becomes an orphan (t->orphan, no parent), dropped by whoever meets it next, its own
 * children with it. t's pending count becomes 0. */
void parts_abandon(struct task *t);

/* The writer could not use the audio of some of t's children (their outcome is back to
 * OUTCOME_NONE): they are out again, counted in pending at every level, and t and the children
 * between are rendering again (OUTCOME_NONE). Writes up to max of those children (leaves, to
 * render again) to out and returns how many there are. */
size_t parts_reopen(struct task *t, struct task **out, size_t max);

/* The top of t's tree (t itself when it has no parent). */
struct task *parts_root(struct task *t);

/* True when t's children are its job's variants (one file each), false for parts (one file). */
bool parts_has_variants(const struct task *t);

/* The file extension of a rendered task: "<variant>.<ext>" for a variant child (so the file is
 * <name>.<variant>.<ext>), else ext. Writes "" when it does not fit. */
void parts_file_ext(const struct task *t, const char *ext, char *out, size_t outlen);

#endif
