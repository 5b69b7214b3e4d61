"""Benchmark: copying a student's workspace for a backup, the launcher's way vs the way a
hand-rolled site does it.

    .venv/bin/python -m tests.bench.bench_backup [--mib 200] [--files 400] [--rounds 3]

Not part of `make test`. One volume is filled with ``--files`` files of random bytes
(``--mib`` MiB in all), then, alternately, ``--rounds`` times each:

- ``launcher``: :func:`launcher.backup.volumes.read` (the engine's archive API, from a
  container that is created and never started, of an empty image) into a file: the time a
  running student's container is paused for their copy;
- ``docker run tar``: ``docker run --rm -v VOLUME:/w:ro IMAGE tar -C /w -cf - .`` into a file,
  the usual hand-rolled backup (a container of the teaching image runs tar).

Prints the median seconds of each, the throughput and the ratio; removes its volume.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import statistics
import subprocess
import tarfile
import tempfile
import time

import docker

from launcher.backup import volumes
from tests.integration.hub import IMAGE


def fill(client, name: str, mib: int, files: int) -> None:
    size = mib * 1024 * 1024 // files
    buf = tempfile.TemporaryFile()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(files):
            info = tarfile.TarInfo(f"{volumes.ROOT}/data/part-{i:05d}.bin")
            info.size, info.uid, info.gid = size, 1000, 100
            tar.addfile(info, io.BytesIO(os.urandom(size)))
    buf.seek(0)
    volumes.write(client, name, buf)


def launcher_copy(client, name: str) -> float:
    with tempfile.TemporaryFile() as out:
        began = time.monotonic()
        volumes.read(client, name, out)
        return time.monotonic() - began


def tar_copy(name: str) -> float:
    with tempfile.TemporaryFile() as out:
        began = time.monotonic()
        subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "-v", f"{name}:/w:ro", IMAGE,
             "tar", "-C", "/w", "-cf", "-", "."],
            stdout=out, check=True, timeout=600,
        )  # fmt: skip
        return time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    name = f"benchbk_home_{secrets.token_hex(3)}_c"
    try:
        fill(client, name, args.mib, args.files)
        times = {"launcher": [], "docker run tar": []}
        for _ in range(args.rounds):
            times["launcher"].append(launcher_copy(client, name))
            times["docker run tar"].append(tar_copy(name))
        medians = {k: statistics.median(v) for k, v in times.items()}
        for what, median in medians.items():
            rate = args.mib / median
            print(f"{what:15s} median {median:6.2f} s  ({rate:6.1f} MiB/s)  runs {times[what]}")
        ratio = medians["launcher"] / medians["docker run tar"]
        print(f"launcher / docker run tar: {ratio:.2f} ({args.mib} MiB in {args.files} files)")
    finally:
        client.volumes.get(name).remove(force=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
