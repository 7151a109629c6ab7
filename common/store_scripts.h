/* store_scripts.h - the store's Lua scripts and the private plumbing the store*.c files share.
 *
 * Not part of the store's public interface: include it from store*.c only. Every state change
 * is a script so that a contact's state and the campaign counters move together, atomically,
 * whatever crashes or races around them. Scripts take every key they touch in KEYS (all in one
 * campaign's hash slot) and never build key names from data, so contacts stay inert hash fields.
 * Lua in Redis limits unpack() to a few thousand values, hence the chunks of 1000. */
#ifndef VOXCAST_STORE_SCRIPTS_H
#define VOXCAST_STORE_SCRIPTS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "store.h"

enum store_script_id {
    SCRIPT_BATCH,
    SCRIPT_CREATE,
    SCRIPT_DLQ_WINDOW,
    SCRIPT_DLQ_PURGE,
    SCRIPT_DLQ_CLAIM,
    SCRIPT_DLQ_REPLAYED,
    SCRIPT_DLQ_UNCLAIM,
    SCRIPT_LOCK_REFRESH,
    SCRIPT_UNLOCK,
    SCRIPT_CACHE_CLAIM,     /* store_cache.c: lookup-or-claim naming a stale entry */
    SCRIPT_CONTROL,         /* store_lifecycle.c: pause, resume, cancel */
    SCRIPT_ASIDE_CLAIM,     /* store_lifecycle.c: aside -> aside:claimed */
    SCRIPT_ASIDE_UNCLAIM,   /* store_lifecycle.c: aside:claimed -> aside */
    SCRIPT_RETAIN,          /* store_lifecycle.c: retention expiry */
    SCRIPT_UNRETAIN,        /* store_lifecycle.c: retention expiry removed */
    SCRIPT_COUNT
};

/* The lifecycle's scripts live beside their user, store_lifecycle.c. */
extern const char store_lua_control[];
extern const char store_lua_aside_claim[];
extern const char store_lua_aside_unclaim[];
extern const char store_lua_retain[];
extern const char store_lua_unretain[];

/* Gives every key of the campaign the expiry meta retention_s says (store_lifecycle.c), as the
 * batch script does when it completes a campaign: for completions told outside it
 * (store_completion_claim). 0 or -1. */
int store_campaign_retain(struct store *s, const char *campaign);
/* Removes that expiry again unless the campaign is cancelled (store_campaign_create of a record
 * that exists: a launch that adds contacts). 0 or -1. */
int store_campaign_unretain(struct store *s, const char *campaign);

/* The control named by meta `control` (NULL or unknown text: running); store_lifecycle.c. */
enum store_control store_control_parse(const char *text, size_t len);

/* The render-once cache's script lives beside its user, store_cache.c (store_cache.h). */
extern const char store_lua_cache_claim[];

/* The campaign's retention, as Lua: retain(ttl) gives every key in KEYS an expiry of ttl
 * seconds (meta retention_s: nil means 30 days, 0 means none). Used when a campaign completes
 * (batch script) and when it is cancelled (control script), so KEYS of both name every key of
 * the campaign that lives without an expiry of its own. */
#define STORE_LUA_RETAIN                                                                            \
    "local function retain(ttl)\n"                                                                  \
    "  local secs = tonumber(ttl) or 2592000\n"                                                     \
    "  if secs > 0 then for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], secs) end end\n"          \
    "end\n"

/* One campaign's batch of transitions (see store.h for the state machine).
 * KEYS: 1 meta, 2 state, 3 prov, 4 dlq, 5 dlq:e, 6 dlq:c, 7 dlq:seq, 8 applied, 9 runs, 10 chunks,
 *       11 outbox, 12 aside, 13 aside:claimed, 14 chars, 15 dlq:replaying (the last three only
 *       for the retention expiry at completion)
 * ARGV: 1 token "GEN.NOPS|" or "GEN.NOPS.CAP|" (CAP: the DLQ cap, below), 2 campaign, 3 number
 *       of run ids R, 4..3+R run ids, then runs of same-kind ops: kind, count, items. Kinds:
 *       "R<run number>[/<chunk>]" | "N<run>/<chunk>" | "A" | "U" | "C" (items: contacts),
 *       "K<run>/<chunk>" (one empty item), "D" (items: contact, provider, audio ms, results
 *       event) | "Q" (items: contact, entry JSON, results event) | "X" cancel (items: contact,
 *       results event) | "S" set aside (items: contact, job JSON). N is R for contacts the
 *       caller knows have no state: their states are not read.
 * X and S ops act only when meta control is "cancelled" (X) or "paused" (S) and answer NOOP
 * otherwise; control is read once per call, and only when the batch holds X or S ops, so the
 * launch's and the consumers' usual batches pay nothing for it.
 * Returns one result character per op ('0' + enum store_result), then, when this batch moved a
 * contact to done, dlq or cancelled and left the campaign's pending (enqueued - done - dlq -
 * cancelled) at 0 with counts not told before, "|L" while its launch is still running, or "|C"
 * and the completion "DONE DLQ ENQUEUED AUDIO_MS AT_MS[ CANCELLED]" once it has finished (kept
 * in meta `completion` until the event is published; meta `completed_mark` = "DONE DLQ[
 * CANCELLED]" of the last completion told, so the same final counts are told once, and counts
 * changed later, by a DLQ replay say, are told again; CANCELLED only when not 0, so marks and
 * completions of campaigns without cancellations read as they always did). A completion also
 * gives every key in KEYS the retention expiry (STORE_LUA_RETAIN).
 * Whether pending went to 0 in this very batch does not matter: a contact done before its
 * launch chunk was acknowledged leaves pending at 0 throughout.
 *
 * DLQ cap: CAP > 0 (dlq.max_entries_per_campaign) bounds the entries the campaign's DLQ holds.
 * A Q op that finds it full still moves its contact to q and counts it in dlq (so done + dlq +
 * pending == enqueued holds), but its entry is not stored: the op answers PARKED_DROPPED (';')
 * and meta `dlq_dropped` counts it. What the DLQ holds is read once per call (ZCARD of dlq,
 * only when the batch has Q ops), not per op; entries a replay claimed are not counted. A token
 * without CAP (the launch's, every batch with no cap set) means no cap.
 *
 * Results outbox: a done or parked op with a non-empty event stores it in `outbox` (contact ->
 * event JSON) in the same step as the state change; the publisher deletes it once Kafka has it.
 * A duplicate (done or dlq) whose contact still has an outbox entry answers UNPUBLISHED,
 * so a redelivery after a crash between this script and the event's delivery publishes it.
 *
 * A state value is its letter followed by the tag of the launch run that last reserved the
 * contact ("p3"); a run's tag is its number in `runs`. A reserve whose contact already carries
 * this run's tag is REPEATED, so no per-run set of seen ids is needed. A contact reserved as
 * part of a launch chunk is "p<tag>/<chunk>" at once, and `chunks` holds, per "<tag>/<chunk>",
 * how many of its contacts are still waiting for the chunk's acknowledgement (a number), or "a"
 * once it came: until then such a "p" counts as "r" (eff). One K op then counts a whole chunk
 * as enqueued, instead of a hash read and write per contact.
 *
 * Launch needs about 250k contacts/s and a redis.call costs about a microsecond, so nothing here
 * is a call per contact: the states of every contact named are read with HMGET in chunks, the ops
 * run in order on Lua tables (a contact twice in a batch behaves as in two batches), and only
 * changed states, summed counters and parked entries are written back, in chunks. Ops come in
 * runs of one kind so the inner loops stay tight. The token and results are kept in `applied`,
 * so an exact retry of the writer's batch answers with the same results and changes nothing.
 * An error reply comes before any state or counter is written. */
static const char store_lua_batch[] =
    "redis.replicate_commands()\n"                 /* Redis 4: TIME below, before writes */
    STORE_LUA_RETAIN
    "local tok = ARGV[1]\n"
    "local prev = redis.call('GET', KEYS[8])\n"
    "if prev and string.sub(prev, 1, #tok) == tok then return string.sub(prev, #tok + 1) end\n"
    "local cap = tonumber(string.match(tok, '^%d+%.%d+%.(%d+)|$')) or 0\n"
    "local function chunked(cmd, key, list)\n"
    "  for j = 1, #list, 1000 do\n"
    "    redis.call(cmd, key, unpack(list, j, math.min(j + 999, #list)))\n"
    "  end\n"
    "end\n"
    "local byte, sub, find = string.byte, string.sub, string.find\n"
    "local n, nr = #ARGV, tonumber(ARGV[3])\n"
    "local first = 4 + nr\n"
    "local was, st = {}, {}\n"
    "local function load(list, a, b)\n"
    "  for j = a, b, 1000 do\n"
    "    local v = redis.call('HMGET', KEYS[2], unpack(list, j, math.min(j + 999, b)))\n"
    "    for m = 1, #v do was[list[j + m - 1]] = v[m] end\n"
    "  end\n"
    "end\n"
    "local function width(k)\n"                     /* ARGV items per op of kind k */
    "  if k == 68 then return 4 elseif k == 81 then return 3 elseif k == 88 or k == 83 then return 2 end\n"
    "  return 1\n"
    "end\n"
    "local i, parks, ctl = first, false, nil\n"
    "while i <= n do\n"
    "  local k, cnt = byte(ARGV[i]), tonumber(ARGV[i + 1])\n"
    "  local w = width(k)\n"
    "  if w > 1 then\n"
    "    if k == 81 then parks = true elseif k ~= 68 then ctl = true end\n"
    "    local list = {}\n"
    "    for j = 1, cnt do list[j] = ARGV[i + 2 + (j - 1) * w] end\n"
    "    load(list, 1, cnt)\n"
    "    i = i + 2 + w * cnt\n"
    "  else\n"
    "    if k ~= 75 and k ~= 78 then load(ARGV, i + 2, i + 1 + cnt) end\n"
    "    i = i + 2 + cnt\n"
    "  end\n"
    "end\n"
    "local tags = {}\n"
    "if nr > 0 then\n"
    "  local known, count = redis.call('HMGET', KEYS[9], unpack(ARGV, 4, 3 + nr)), nil\n"
    "  for r = 1, nr do\n"
    "    local t = known[r]\n"
    "    if not t then\n"
    "      count = (count or redis.call('HLEN', KEYS[9])) + 1\n"
    "      t = tostring(count)\n"
    "      redis.call('HSET', KEYS[9], ARGV[3 + r], t)\n"
    "    end\n"
    "    tags[r] = t\n"
    "  end\n"
    "end\n"
    "local chunks, dirty = {}, {}\n"                /* "<tag>/<chunk>" -> waiting count or "a" */
    "local function chunk(ck)\n"
    "  local v = chunks[ck]\n"
    "  if v == nil then\n"
    "    v = redis.call('HGET', KEYS[10], ck)\n"
    "    if v ~= 'a' then v = tonumber(v) or 0 end\n"
    "    chunks[ck] = v\n"
    "  end\n"
    "  return v\n"
    "end\n"
    "local function add(ck, d) chunks[ck] = chunk(ck) + d; dirty[ck] = true end\n"
    "local function eff(v)\n"                       /* a chunked p not acknowledged yet is an r */
    "  if find(v, '/', 3, true) then\n"
    "    local ck = sub(v, 2)\n"
    "    if chunk(ck) ~= 'a' then return 114, ck end\n"
    "  end\n"
    "  return 112\n"
    "end\n"
    "local function tagof(v)\n"
    "  local s = find(v, '/', 3, true)\n"
    "  return s and sub(v, 2, s - 1) or sub(v, 2)\n"
    "end\n"
    "if ctl then ctl = redis.call('HGET', KEYS[1], 'control') or 'running' end\n"
    "local enq, done, dlq, dup, no, audio, fin, dropped, canc = 0, 0, 0, 0, 0, 0, 0, 0, 0\n"
    "local capped = cap > 0 and parks\n"
    "local room = capped and cap - redis.call('ZCARD', KEYS[4]) or 0\n"   /* entries still storable */
    "local out, prov, parked, retag, box, aside = {}, {}, {}, {p = {}, d = {}, q = {}, c = {}}, {}, {}\n"
    "local function to(letter, v)\n"                  /* letter .. v's tag, memoised */
    "  if not v then return letter end\n"
    "  local m = retag[letter]\n"
    "  local r = m[v]\n"
    "  if not r then r = letter .. tagof(v); m[v] = r end\n"
    "  return r\n"
    "end\n"
    "i = first\n"
    "while i <= n do\n"
    "  local op = ARGV[i]\n"
    "  local k = byte(op)\n"
    "  local w = width(k)\n"
    "  local stop = i + 1 + tonumber(ARGV[i + 1]) * w\n"
    "  local tag, ck, fresh, added\n"
    "  local reserve = k == 82 or k == 78\n"
    "  if reserve or k == 75 then\n"
    "    local s = find(op, '/', 2, true)\n"
    "    tag = tags[tonumber(s and sub(op, 2, s - 1) or sub(op, 2))]\n"
    "    ck = s and tag .. sub(op, s)\n"
    "    if reserve and ck and chunk(ck) == 'a' then\n"
    "      return redis.error_reply('reserve into chunk ' .. ck .. ', which was acknowledged already')\n"
    "    end\n"
    "    fresh, added = ck and 'p' .. ck or 'r' .. tag, 0\n"
    "  end\n"
    "  for j = i + 2, stop, w do\n"
    "    local c = ARGV[j]\n"
    "    local v = st[c]\n"
    "    if v == nil then v = was[c] end\n"
    "    local b, r = v and byte(v), '7'\n"
    "    local e, from = b, nil\n"                   /* effective letter; the chunk it waits in */
    "    if b == 112 then e, from = eff(v) end\n"
    "    if k == 65 then\n"                                          /* A ack */
    "      if e == 114 then st[c] = to('p', v); enq = enq + 1; r = '4'\n"
    "        if from then add(from, -1) end\n"
    "      elseif e == 113 then st[c] = to('p', v); dlq = dlq - 1; r = '4' end\n"
    "    elseif reserve then\n"                                      /* R, N reserve */
    "      if not v then st[c] = fresh; added = added + 1; r = '0'\n"
    "      elseif tagof(v) == tag then r = '1'\n"
    "      else\n"
    "        if from then add(from, -1) end\n"
    "        st[c] = (e == 114 and 'r' or sub(v, 1, 1)) .. tag; r = b == 100 and '2' or '3'\n"
    "      end\n"
    "    elseif k == 75 then\n"                                      /* K chunk acknowledged */
    "      local waiting = chunk(ck)\n"
    "      if waiting ~= 'a' then enq = enq + waiting; chunks[ck] = 'a'; dirty[ck] = true; r = '4' end\n"
    "    elseif k == 85 then\n"                                      /* U unreserve */
    "      if e == 114 then st[c] = false; r = '4'\n"
    "        if from then add(from, -1) end\n"
    "      end\n"
    "    elseif k == 67 then\n"                                      /* C check: done already? */
    "      if b == 100 then r = '2' end\n"
    "    elseif k == 88 or k == 83 then\n"                          /* X cancel, S set aside */
    "      if b == 100 or b == 113 or b == 99 then\n"
    "        r = '5'\n"
    "        if redis.call('HEXISTS', KEYS[11], c) == 1 then r = ':' end\n"
    "      elseif k == 88 and ctl == 'cancelled' then\n"
    "        if e ~= 112 then enq = enq + 1; if from then add(from, -1) end end\n"
    "        canc = canc + 1; fin = fin + 1; st[c] = to('c', v); r = '4'\n"
    "        if ARGV[j + 1] ~= '' then box[#box + 1] = c; box[#box + 1] = ARGV[j + 1] end\n"
    "      elseif k == 83 and ctl == 'paused' then\n"
    "        if e ~= 112 then enq = enq + 1; st[c] = to('p', v); if from then add(from, -1) end end\n"
    "        aside[#aside + 1] = c; aside[#aside + 1] = ARGV[j + 1]; r = '4'\n"
    "      end\n"
    "    elseif b == 100 or (k == 81 and b == 113) then\n"           /* D, Q: duplicate */
    "      if k == 68 then dup = dup + 1 end\n"
    "      r = '5'\n"
    "      if redis.call('HEXISTS', KEYS[11], c) == 1 then r = ':' end\n"
    "    elseif k == 68 then\n"                                      /* D done */
    "      if b == 113 then dlq = dlq - 1\n"
    "      elseif b == 99 then canc = canc - 1\n"
    "      elseif e ~= 112 then enq = enq + 1; if from then add(from, -1) end end\n"
    "      done = done + 1; fin = fin + 1; st[c] = to('d', v); r = '4'\n"
    "      local p = ARGV[j + 1]\n"
    "      if p ~= '' then prov[p] = (prov[p] or 0) + 1 end\n"
    "      audio = audio + (tonumber(ARGV[j + 2]) or 0)\n"
    "      if ARGV[j + 3] ~= '' then box[#box + 1] = c; box[#box + 1] = ARGV[j + 3] end\n"
    "    else\n"                                                     /* Q dlq */
    "      if b == 99 then canc = canc - 1\n"
    "      elseif e ~= 112 then enq = enq + 1; if from then add(from, -1) end end\n"
    "      dlq = dlq + 1; fin = fin + 1; st[c] = to('q', v); r = '6'\n"
    "      if capped and room <= 0 then dropped = dropped + 1; r = ';'\n"   /* DLQ full */
    "      else\n"
    "        room = room - 1\n"
    "        parked[#parked + 1] = c; parked[#parked + 1] = ARGV[j + 1]\n"
    "      end\n"
    "      if ARGV[j + 2] ~= '' then box[#box + 1] = c; box[#box + 1] = ARGV[j + 2] end\n"
    "    end\n"
    "    no = no + 1; out[no] = r\n"
    "  end\n"
    "  if ck and added > 0 then add(ck, added) end\n"
    "  i = stop + 1\n"
    "end\n"
    "for c, v in pairs(dirty) do redis.call('HSET', KEYS[10], c, tostring(chunks[c])) end\n"
"local set, del = {}, {}\n"
    "for c, v in pairs(st) do\n"
    "  if v ~= was[c] then\n"
    "    if v then set[#set + 1] = c; set[#set + 1] = v else del[#del + 1] = c end\n"
    "  end\n"
    "end\n"
    "chunked('HSET', KEYS[2], set)\n"
    "chunked('HDEL', KEYS[2], del)\n"
    "if enq ~= 0 then redis.call('HINCRBY', KEYS[1], 'enqueued', enq) end\n"
    "if done ~= 0 then redis.call('HINCRBY', KEYS[1], 'done', done) end\n"
    "if dlq ~= 0 then redis.call('HINCRBY', KEYS[1], 'dlq', dlq) end\n"
    "if dup ~= 0 then redis.call('HINCRBY', KEYS[1], 'duplicates', dup) end\n"
    "if dropped ~= 0 then redis.call('HINCRBY', KEYS[1], 'dlq_dropped', dropped) end\n"
    "if canc ~= 0 then redis.call('HINCRBY', KEYS[1], 'cancelled', canc) end\n"
    "if #aside > 0 then chunked('HSET', KEYS[12], aside) end\n"
    "for p, v in pairs(prov) do redis.call('HINCRBY', KEYS[3], p, v) end\n"
    "if audio ~= 0 then redis.call('HINCRBY', KEYS[1], 'audio_ms', audio) end\n"
    "if #box > 0 then chunked('HSET', KEYS[11], box); redis.call('EXPIRE', KEYS[11], 604800) end\n"
    "if #parked > 0 then\n"
    "  local cnt = #parked / 2\n"
    "  local last = redis.call('INCRBY', KEYS[7], cnt)\n"
    "  local z, e, cc = {}, {}, {}\n"
    "  for j = 1, cnt do\n"
    "    local seq = last - cnt + j\n"
    "    local id = ARGV[2] .. ':' .. string.format('%d', seq)\n"
    "    z[#z + 1] = seq; z[#z + 1] = id\n"
    "    e[#e + 1] = id; e[#e + 1] = parked[2 * j]\n"
    "    cc[#cc + 1] = id; cc[#cc + 1] = parked[2 * j - 1]\n"
    "  end\n"
    "  chunked('ZADD', KEYS[4], z)\n"
    "  chunked('HSET', KEYS[5], e)\n"
    "  chunked('HSET', KEYS[6], cc)\n"
    "end\n"
    "local res = table.concat(out)\n"
    "if fin > 0 then\n"                              /* this batch finished contacts: complete? */
    "  local m = redis.call('HMGET', KEYS[1], 'enqueued', 'done', 'dlq', 'launch_state', 'completed_mark',\n"
    "                      'audio_ms', 'cancelled', 'retention_s')\n"
    "  local me, md, mq, mc = tonumber(m[1]) or 0, tonumber(m[2]) or 0, tonumber(m[3]) or 0, tonumber(m[7]) or 0\n"
    "  local tail = mc ~= 0 and string.format(' %d', mc) or ''\n"
    "  local mark = md .. ' ' .. mq .. tail\n"
    "  if me - md - mq - mc == 0 and m[5] ~= mark then\n"
    "    if m[4] ~= 'launched' then res = res .. '|L'\n"
    "    else\n"
    "      local t = redis.call('TIME')\n"
    "      local c = string.format('%d %d %d %d %d', md, mq, me, tonumber(m[6]) or 0,\n"
    "                              tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) .. tail\n"
    "      redis.call('HSET', KEYS[1], 'completed_mark', mark, 'completion', c)\n"
    "      res = res .. '|C' .. c\n"
    "      retain(m[8])\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[8], tok .. res, 'EX', 3600)\n"
    "return res\n";

/* Creates a campaign record unless one exists. KEYS: 1 meta, 2 state. ARGV: 1 now_ms.
 * Returns {created 0|1, created_at, contacts already have states 0|1}. */
static const char store_lua_create[] =
    "local leftovers = redis.call('EXISTS', KEYS[2])\n"
    "if redis.call('HSETNX', KEYS[1], 'created_at', ARGV[1]) == 0 then\n"
    "  return {0, redis.call('HGET', KEYS[1], 'created_at'), leftovers}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'launch_state', 'launching')\n"
    "return {1, ARGV[1], leftovers}\n";

/* A window of the DLQ, newest first. KEYS: 1 dlq, 2 dlq:e. ARGV: 1 start, 2 stop (<= 1000 ids).
 * Returns {ids scanned, id, json, id, json, ...}; ids whose entry vanished are skipped. */
static const char store_lua_dlq_window[] =
    "local ids = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])\n"
    "local out = {#ids}\n"
    "if #ids == 0 then return out end\n"
    "local v = redis.call('HMGET', KEYS[2], unpack(ids))\n"
    "for i = 1, #ids do\n"
    "  if v[i] then out[#out + 1] = ids[i]; out[#out + 1] = v[i] end\n"
    "end\n"
    "return out\n";

/* Deletes up to ARGV[1] (<= 1000) of the oldest waiting entries. KEYS: 1 dlq, 2 dlq:e, 3 dlq:c.
 * Returns the number deleted. */
static const char store_lua_dlq_purge[] =
    "local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)\n"
    "if #ids == 0 then return 0 end\n"
    "redis.call('ZREM', KEYS[1], unpack(ids))\n"
    "redis.call('HDEL', KEYS[2], unpack(ids))\n"
    "redis.call('HDEL', KEYS[3], unpack(ids))\n"
    "return #ids\n";

/* Claims up to ARGV[2] oldest entries with seq <= ARGV[1].
 * KEYS: 1 dlq, 2 dlq:e, 3 dlq:c, 4 state, 5 replaying, 6 meta.
 * Returns {deleted, id, json, ...}: entries of done contacts are deleted (at most 1000 of them
 * per call, so one call never holds Redis for long), the others move to replaying and their
 * contact q -> p. Each id taken leaves the ZSET, so every query starts at the oldest left.
 * Works a window of at most 1000 ids at a time with one variadic call per step (HMGET, ZREM,
 * HDEL, HSET), not seven calls per entry: a replay's Redis time is mostly calls. */
static const char store_lua_dlq_claim[] =
    "local want, budget = tonumber(ARGV[2]), 1000\n"
    "local byte, sub = string.byte, string.sub\n"
    "local out, moved, got = {0}, 0, 0\n"
    "while got < want and out[1] < budget do\n"
    "  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, math.min(want - got, 1000))\n"
    "  if #ids == 0 then break end\n"
    "  local es = redis.call('HMGET', KEYS[2], unpack(ids))\n"
    "  local cs = redis.call('HMGET', KEYS[3], unpack(ids))\n"
    "  local named, at = {}, {}\n"
    "  for i = 1, #ids do if cs[i] then named[#named + 1] = cs[i]; at[#named] = i end end\n"
    "  local ss = {}\n"
    "  if #named > 0 then\n"
    "    local v = redis.call('HMGET', KEYS[4], unpack(named))\n"
    "    for j = 1, #named do ss[at[j]] = v[j] end\n"
    "  end\n"
    "  redis.call('ZREM', KEYS[1], unpack(ids))\n"
    "  redis.call('HDEL', KEYS[2], unpack(ids))\n"
    "  local gone, put, back, now = {}, {}, {}, {}\n"
    "  for i = 1, #ids do\n"             /* now: states changed above, for a contact seen twice */
    "    local id, e, c = ids[i], es[i], cs[i]\n"
    "    local s = c and now[c] or ss[i]\n"
    "    if (s and byte(s) == 100) or not e then\n"
    "      gone[#gone + 1] = id\n"
    "      out[1] = out[1] + 1\n"
    "    else\n"
    "      put[#put + 1] = id; put[#put + 1] = e\n"
    "      if s and byte(s) == 113 then\n"
    "        now[c] = 'p' .. sub(s, 2)\n"
    "        back[#back + 1] = c; back[#back + 1] = now[c]; moved = moved + 1\n"
    "      end\n"
    "      out[#out + 1] = id; out[#out + 1] = e\n"
    "      got = got + 1\n"
    "    end\n"
    "  end\n"
    "  if #gone > 0 then redis.call('HDEL', KEYS[3], unpack(gone)) end\n"
    "  if #put > 0 then redis.call('HSET', KEYS[5], unpack(put)) end\n"
    "  if #back > 0 then redis.call('HSET', KEYS[4], unpack(back)) end\n"
    "end\n"
    "if moved > 0 then redis.call('HINCRBY', KEYS[6], 'dlq', -moved) end\n"
    "return out\n";

/* Forgets replayed entries. KEYS: 1 replaying, 2 dlq:c. ARGV: ids. Returns the number forgotten.
 * An id no longer claimed (another replay put it back) keeps its contact mapping. */
static const char store_lua_dlq_replayed[] =
    "local n = 0\n"
    "for j = 1, #ARGV, 1000 do\n"
    "  local ids = {unpack(ARGV, j, math.min(j + 999, #ARGV))}\n"
    "  local held, mine = redis.call('HMGET', KEYS[1], unpack(ids)), {}\n"
    "  for i = 1, #ids do if held[i] then mine[#mine + 1] = ids[i] end end\n"
    "  if #mine > 0 then\n"
    "    redis.call('HDEL', KEYS[1], unpack(mine))\n"
    "    redis.call('HDEL', KEYS[2], unpack(mine))\n"
    "    n = n + #mine\n"
    "  end\n"
    "end\n"
    "return n\n";

/* Puts every claimed entry back. KEYS: 1 replaying, 2 dlq, 3 dlq:e, 4 dlq:c, 5 state, 6 meta.
 * Returns the number put back. */
static const char store_lua_dlq_unclaim[] =
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local back = 0\n"
    "for i = 1, #all, 2 do\n"
    "  local id, e = all[i], all[i + 1]\n"
    "  local seq = tonumber(string.match(id, ':(%d+)$')) or 0\n"
    "  redis.call('ZADD', KEYS[2], seq, id)\n"
    "  redis.call('HSET', KEYS[3], id, e)\n"
    "  local c = redis.call('HGET', KEYS[4], id)\n"
    "  local s = c and redis.call('HGET', KEYS[5], c)\n"
    "  if s and string.byte(s) == 112 then\n"
    "    redis.call('HSET', KEYS[5], c, 'q' .. string.sub(s, 2)); back = back + 1\n"
    "  end\n"
    "end\n"
    "if back > 0 then redis.call('HINCRBY', KEYS[6], 'dlq', back) end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return #all / 2\n";

/* KEYS: 1 lock. ARGV: 1 token, 2 ttl ms. Returns 1 when refreshed, 0 when not ours. */
static const char store_lua_lock_refresh[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "return 1\n";

/* KEYS: 1 lock. ARGV: 1 token. Returns 1 when released, 0 when not ours. */
static const char store_lua_unlock[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return 1\n";

/* ---------------------------------------------------------------- private plumbing */

/* One command of a pipeline. For a script (script >= 0), argv[0] and argv[1] are placeholders
 * that store_pipeline fills with EVALSHA and the SHA (or EVAL and the source on NOSCRIPT); the
 * rest is numkeys, keys, args. For a plain command, script is -1 and argv is the command. */
struct store_call {
    int          script; /* enum store_script_id, or -1 */
    int          argc;
    const char **argv;
    size_t      *lens;
};

/* Sends n calls in one round trip (a second one only for scripts Redis had forgotten, so calls
 * must not depend on each other's order) and stores each reply in replies[i] (freeReplyObject
 * them). Any error reply fails the whole pipeline: -1 with store_error set and replies NULL. */
int store_pipeline(struct store *s, struct store_call *calls, size_t n, redisReply **replies);

/* store_pipeline in two halves (store_conn.c), for store_batch_send/_wait: send writes the n
 * calls out without reading a reply; recv reads their replies (replies[] all NULL on entry) and,
 * on failure, frees them and returns -1 (store_error set). */
int store_pipeline_send(struct store *s, struct store_call *calls, size_t n);
int store_pipeline_recv(struct store *s, struct store_call *calls, size_t n, redisReply **replies);

/* Frees n replies; NULL entries are skipped. */
void store_free_replies(redisReply **replies, size_t n);

/* One call; the reply or NULL (store_error set). */
redisReply *store_call1(struct store *s, int script, int argc, const char **argv, size_t *lens);

/* Runs a script with the campaign's keys named by suffixes (at most 8), then extra args (at most 4). */
redisReply *store_campaign_script(struct store *s, enum store_script_id script, const char *campaign,
                                  const char *const *suffixes, int nkeys, const char *const *args,
                                  int nargs);

/* A plain command in hiredis printf style (%s, %b, %lld); the reply or NULL (store_error set). */
redisReply *store_command(struct store *s, const char *fmt, ...);

/* Sets the store's error message ("redis HOST:PORT: " + text). */
void store_fail(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "voxcast:{campaign}:suffix" into out (campaign already validated). */
void store_key(char *out, size_t outlen, const char *campaign, const char *suffix);

/* Checks campaign for a public call: 0, or -1 with store_error set. */
int store_check_id(struct store *s, const char *campaign);

#define STORE_KEY_MAX 160

#endif
