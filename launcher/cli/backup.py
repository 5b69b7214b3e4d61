"""``launcher backup`` and ``launcher restore`` (see launcher.backup.run)."""

from __future__ import annotations

import sys
from pathlib import Path

from launcher import schema
from launcher.backup import run
from launcher.backup.archive import BadArchive, Reader
from launcher.backup.storedump import StoreNotEmpty
from launcher.cli.engine import engine
from launcher.settings import Site
from launcher.store import StoreUnavailable


def cmd_backup(site: Site, args) -> int:
    out = Path(args.output) if args.output else run.default_path(site)
    cli = engine(timeout=120)
    if cli is None:
        return 1
    try:
        written = run.backup(site, out.resolve(), cli, user=args.user, course=args.course)
    except StoreUnavailable as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1
    size = written.stat().st_size
    print(f"Backup written: {written} ({size / 1e6:.1f} MB)")
    if args.keep:
        for old in run.prune(written.parent, args.keep):
            print(f"Removed the older backup {old} (--keep {args.keep})")
    return 0


def cmd_restore(site: Site, args) -> int:
    path = Path(args.archive)
    if args.list:
        return _list(path)
    cli = engine(timeout=120)
    if cli is None:
        return 1
    try:
        problems = run.restore(
            site,
            path,
            cli,
            user=args.user,
            course=args.course,
            overwrite=args.overwrite,
            replace_store=args.replace_store,
        )
    except (BadArchive, StoreNotEmpty, schema.SchemaMismatch) as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    print("Restore done." if not problems else f"{len(problems)} workspace(s) not restored.")
    return 1 if problems else 0


def _list(path: Path) -> int:
    try:
        reader = Reader(path)
    except BadArchive as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1
    m = reader.manifest
    reader.close()
    print(f"{path}: {m.scope['kind']} backup of {m.created_at} by launcher {m.launcher}")
    print(f"  store: schema {m.store['schema']}, {sum(m.store['rows'].values())} rows")
    for v in m.volumes:
        print(f"  {v['name']}: {v['user']} in {v['course']}, {v['files']} files, {v['bytes']} B")
    for mat in m.materials:
        print(f"  materials of {mat['course']}: {mat['files']} files from {mat['path']}")
    print("  every checksum matches")
    return 0
