"""Periodic work: the same function runs from the app's lifespan and from a CLI command.

A job is an async function of the `Runtime` returning how much it did. `run_every` runs one in a
loop from the lifespan (an asyncio task), logging each run and surviving failures; the CLI calls
the function once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from softbrik.core.tenancy import platform_job

log = logging.getLogger("softbrik.jobs")

Job = Callable[[Any], Awaitable[int]]


async def run_once(name: str, job: Job, rt: Any) -> int:
    """Run a job once, with a structured log line of what it did and how long it took.

    Counted in the runtime's metrics: `softbrik_job_runs`, `softbrik_job_last_success_...`."""
    started = time.perf_counter()
    try:
        with platform_job(name):  # a job works across teams
            done = await job(rt)
    except Exception:
        rt.metrics.job_runs.labels(name, "failed").inc()
        raise
    rt.metrics.job_runs.labels(name, "ok").inc()
    rt.metrics.job_last_success.labels(name).set(rt.clock.now().timestamp())
    log.info(
        "job done",
        extra={"job": name, "done": done, "ms": round((time.perf_counter() - started) * 1000, 2)},
    )
    return done


async def run_every(name: str, job: Job, rt: Any, seconds: float) -> None:
    """Run a job now and then every `seconds` until cancelled; a failure is logged, not fatal."""
    while True:
        try:
            await run_once(name, job, rt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job failed", extra={"job": name})
        await asyncio.sleep(seconds)
