"""Benchmark: GPU broker allocate/release throughput (not part of `make test`).

    .venv/bin/python -m tests.bench.bench_allocator [--ops 4000]

A bounded mixed workload per configuration: students pick at random to start (acquire, with
when_full=refuse so a full pool answers at once) or stop (release), against the real SQLite
store in a temporary directory. Prints operations per second for a grid of GPU and student
counts, so the scaling with each is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from launcher.gpu.allocator import GpuPolicy
from launcher.gpu.broker import CourseRules, GpuBroker, GpuRefusal
from launcher.gpu.inventory import from_declared
from launcher.store import Store


async def workload(gpus: int, students: int, ops: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        units = from_declared([{"index": i, "uuid": f"GPU-{i:04d}"} for i in range(gpus)])
        broker = GpuBroker(store, units, when_full="refuse")
        rules = CourseRules(GpuPolicy(per_student=1))
        running: set[str] = set()
        acquire_s, release_s, refused = [], [], 0
        t0 = time.perf_counter()
        for _ in range(ops):
            user = f"s{rng.randrange(students)}"
            start = time.perf_counter()
            if user in running:
                await broker.release(user)
                running.discard(user)
                release_s.append(time.perf_counter() - start)
            else:
                try:
                    await broker.acquire(user, "c", rules)
                    running.add(user)
                except GpuRefusal:
                    refused += 1
                acquire_s.append(time.perf_counter() - start)
        total = time.perf_counter() - t0
    return {
        "gpus": gpus,
        "students": students,
        "ops_per_s": ops / total,
        "acquire_p50_ms": 1000 * statistics.median(acquire_s),
        "release_p50_ms": 1000 * statistics.median(release_s) if release_s else 0.0,
        "refused": refused,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=4000, help="operations per configuration")
    args = parser.parse_args()
    grid = [(8, 1000), (64, 100), (64, 1000), (64, 5000), (256, 1000)]
    print(
        f"{'GPUs':>5} {'students':>9} {'ops/s':>8} {'acq p50 ms':>11} {'rel p50 ms':>11} {'refused':>8}"
    )
    for gpus, students in grid:
        r = asyncio.run(workload(gpus, students, args.ops))
        print(
            f"{r['gpus']:>5} {r['students']:>9} {r['ops_per_s']:>8.0f} "
            f"{r['acquire_p50_ms']:>11.2f} {r['release_p50_ms']:>11.2f} {r['refused']:>8}"
        )


if __name__ == "__main__":
    main()
