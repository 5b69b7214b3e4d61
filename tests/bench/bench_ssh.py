"""Benchmark: SSH through the hub's endpoint vs straight into the container's sshd.

    .venv/bin/python -m tests.bench.bench_ssh [--rounds 20] [--megabytes 200]

Not part of `make test`. One test hub (tests/integration/hub.py), one student whose server is
started first; then, in the same run, the same OpenSSH client against:

- ``endpoint``: the hub's SSH endpoint (``ssh -p PORT student1@127.0.0.1``, a registered key):
  what students use; it checks the key, finds the server, connects to the container's sshd and
  bridges every byte;
- ``direct``: the container's own sshd on its address on the students' network, with the
  endpoint's key (the hand-rolled baseline: an sshd in the container, published to students).

Measured for each, alternately so that a busy machine weighs on both: the wall time of
``ssh ... true`` (a new connection, sign-in, one command; ``--rounds`` times, the median),
and of an scp of ``--megabytes`` of random data into the workspace (the median of 3;
MB/s). The ratios endpoint/direct are what to read: the absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from launcher.sshendpoint import GATEWAY_KEY_FILE
from tests.integration.hub import running_hub, wait_for
from tests.sshclient import Endpoint, keygen


def timed(argv: list[str], env: dict) -> float:
    began = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True, env=env, timeout=600)
    return time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    with running_hub(tmp, "bench-ssh") as hub:
        endpoint = Endpoint(hub.ssh_port, tmp)
        wait_for(endpoint.listening, 60, "the hub's SSH endpoint")
        session = hub.session("student1")
        session.start_server("student1")
        key, public = keygen(tmp / "student_key")
        session.add_ssh_key(public, "bench")
        container = hub.container_of("student1")
        ip = next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
        env = endpoint.env(None)
        common = endpoint.options(key, None)
        direct_opts = endpoint.options(hub.data_dir / GATEWAY_KEY_FILE, None)
        data = tmp / "data.bin"
        data.write_bytes(os.urandom(args.megabytes * 1024 * 1024))
        ways = {
            "endpoint": (
                ["ssh", *common, "-p", str(hub.ssh_port), "student1@127.0.0.1", "true"],
                ["scp", *common, "-P", str(hub.ssh_port), str(data), "student1@127.0.0.1:b.bin"],
            ),
            "direct": (
                ["ssh", *direct_opts, "-p", "2222", f"jovyan@{ip}", "true"],
                ["scp", *direct_opts, "-P", "2222", str(data), f"jovyan@{ip}:b.bin"],
            ),
        }
        for command, _ in ways.values():  # known_hosts, caches: not measured
            timed(command, env)
        sign_in: dict[str, list[float]] = {way: [] for way in ways}
        copy: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.rounds):
            for way, (command, _) in ways.items():
                sign_in[way].append(timed(command, env))
        for _ in range(3):
            for way, (_, scp) in ways.items():
                copy[way].append(timed(scp, env))
    print(f"ssh ... true, median of {args.rounds} (a new connection, sign-in, one command):")
    for way in ways:
        print(f"  {way:9} {statistics.median(sign_in[way]):.3f} s")
    ratio = statistics.median(sign_in["endpoint"]) / statistics.median(sign_in["direct"])
    print(f"  endpoint/direct: {ratio:.2f}")
    print(f"scp of {args.megabytes} MB into the workspace, median of 3:")
    for way in ways:
        seconds = statistics.median(copy[way])
        print(f"  {way:9} {seconds:.2f} s  ({args.megabytes / seconds:.0f} MB/s)")
    ratio = statistics.median(copy["endpoint"]) / statistics.median(copy["direct"])
    print(f"  endpoint/direct: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
