#!/usr/bin/python3
"""bench/baseline_worker.py - the baseline for bench/consumer.sh: a straightforward asyncio
worker doing the same work as voxcast-consumer for the happy path, with Debian's
python3-confluent-kafka, python3-aiohttp and python3-redis: consume a job, skip it if the contact
is done, POST it to an OpenAI-shaped provider with bounded concurrency, check the WAV header,
write the file aside and rename it, mark the contact done in Redis, commit the offset.

Prints jobs/s measured from its first message (its group join excluded).

usage: baseline_worker.py BOOTSTRAP REDIS_PORT PROVIDER_URL OUT_DIR CONCURRENCY EXPECTED_JOBS
"""
import asyncio
import json
import os
import sys
import time

import aiohttp
import redis.asyncio as aioredis
from confluent_kafka import Consumer


async def render(session, url, job, out_dir, rds, sem):
    async with sem:
        body = {"model": "tts-1", "input": job["text"], "voice": "alloy", "response_format": "wav"}
        async with session.post(url, json=body) as resp:
            audio = await resp.read()
        if resp.status != 200 or audio[:4] != b"RIFF":
            raise RuntimeError(f"bad answer {resp.status}")
        folder = os.path.join(out_dir, job["campaign"])
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, "." + job["contact"] + ".tmp")
        with open(tmp, "wb") as f:
            f.write(audio)
        os.rename(tmp, os.path.join(folder, job["contact"] + ".wav"))
        key = "baseline:{%s}" % job["campaign"]
        await rds.hset(key + ":state", job["contact"], "d")
        await rds.hincrby(key + ":meta", "done", 1)


async def main():
    bootstrap, redis_port, url, out_dir, concurrency, expected = sys.argv[1:7]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "baseline",
                         "auto.offset.reset": "earliest", "enable.auto.commit": True,
                         "partition.assignment.strategy": "roundrobin"})
    consumer.subscribe(["voxcast.jobs"])
    rds = aioredis.Redis(port=int(redis_port))
    sem = asyncio.Semaphore(int(concurrency))
    done, pending, started = 0, set(), None
    async with aiohttp.ClientSession() as session:
        while done < int(expected):
            msg = consumer.poll(0 if pending else 0.1)
            if msg is not None and not msg.error():
                started = started or time.monotonic()
                job = json.loads(msg.value())
                state = await rds.hget("baseline:{%s}:state" % job["campaign"], job["contact"])
                if state != b"d":
                    pending.add(asyncio.ensure_future(render(session, url, job, out_dir, rds, sem)))
            if pending and (msg is None or len(pending) >= int(concurrency)):
                finished, pending = await asyncio.wait(pending, timeout=0.01,
                                                       return_when=asyncio.FIRST_COMPLETED)
                for f in finished:
                    f.result()
                done += len(finished)
    elapsed = time.monotonic() - started
    consumer.close()
    await rds.close()
    print(f"{int(expected) / elapsed:.0f}")  # jobs/s from the first message on, like the bench


asyncio.run(main())
