"""Checks of a running install for ``launcher check``: the HTTPS certificate's expiry, the
free disk space, and the NVIDIA hook the engine needs when GPUs are declared. Each returns a
sentence (a problem) or None, and says what it found through ``say``."""

from __future__ import annotations

import shutil
import socket
import ssl
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from cryptography import x509

#: a certificate that expires within this many days is a problem, by tls.mode: a provided one
#: is renewed by a person; Caddy renews its own (Let's Encrypt's at 30 days left, its own
#: authority's 12-hour ones every few hours), so only a failing renewal is a problem
CERT_WARN_DAYS = {"provided": 14, "auto": 7, "self-signed": 0}
#: free space below which the data directory's disk is a problem
MIN_FREE_GB = 5
#: where set-up puts a NVIDIA hook for the engine (deploy/host/ensure-docker.sh)
HOOK_DIRS = ("/usr/local/lib/launcher/hooks", "/usr/bin", "/usr/local/bin")


def certificate(url: str, min_days: int, timeout: float = 5) -> str | None:
    """The problem with the certificate served at ``url`` (https), or None."""
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or 443
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the expiry is read, whoever signed it
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as exc:
        return f"Nothing serves HTTPS at {url} ({exc}): is launcher-https running?"
    return expiry_problem(x509.load_der_x509_certificate(der), url, min_days)


def expiry_problem(
    cert: x509.Certificate, url: str, min_days: int, now: datetime | None = None
) -> str | None:
    left = cert.not_valid_after_utc - (now or datetime.now(UTC))
    if left.total_seconds() <= 0 or left.days < min_days:
        return (
            f"The certificate of {url} expires in {left.days} day(s) "
            f"({cert.not_valid_after_utc:%Y-%m-%d}): renew it (tls.mode auto renews by "
            "itself once the host is reachable on ports 80 and 443)."
        )
    return None


def disk(path: Path) -> tuple[float, str | None]:
    """Free gigabytes on ``path``'s disk (its nearest existing folder), and the problem."""
    while not path.exists() and path != path.parent:
        path = path.parent
    free = shutil.disk_usage(path).free / 1e9
    if free < MIN_FREE_GB:
        return free, (
            f"Only {free:.1f} GB are free on the disk of {path}: the store, backups and the "
            "hub's database need room; free some, or move data_dir."
        )
    return free, None


def nvidia_hook() -> str | None:
    """The problem when no nvidia-container-runtime-hook is installed (GPUs declared)."""
    found = shutil.which("nvidia-container-runtime-hook", path=":".join(HOOK_DIRS))
    if found is None:
        return (
            "GPUs are declared but nvidia-container-runtime-hook is not installed: install "
            "NVIDIA's container toolkit (nvidia-container-toolkit) and restart the engine."
        )
    return None
