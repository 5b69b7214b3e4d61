"""The ``launcher`` command: ``up``, ``check``, ``courses``, ``gpus`` and ``images``."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

from launcher import dockerhost, hostchecks, pidfiles
from launcher.catalog import effective_site
from launcher.cli.imagechecks import check_images, check_nodes, stale_containers
from launcher.images.prepull import prepull
from launcher.preflight import course_images, host_blockers
from launcher.proxycheck import REPO_ROOT, proxy_path, proxy_problem
from launcher.settings import DEMO_SITE_FILE, Site, SiteFileError, load_site
from launcher.store import StoreSchemaMismatch, StoreUnavailable

#: the one JupyterHub configuration file: it loads the site file ($LAUNCHER_CONFIG)
HUB_CONFIG = REPO_ROOT / "jupyterhub_config.py"


def _load(path: str | None) -> Site:
    try:
        return load_site(path)
    except SiteFileError as exc:
        print(f"The site file {exc.path} has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _with_catalog(site: Site) -> Site:
    """The site with the store's courses too; the site file's alone before the first start."""
    try:
        return effective_site(site)
    except StoreUnavailable:
        return site


def check(site: Site) -> tuple[list[str], list[str]]:
    """Check the host against the site file: (problems, those with which the hub cannot start),
    one sentence each; both empty when all is good."""
    problems: list[str] = []
    schema_problems: list[str] = []
    say = lambda msg: print(f"ok: {msg}")  # noqa: E731
    try:
        site = effective_site(site)
    except StoreSchemaMismatch as exc:  # the hub would not start on it
        schema_problems.append(str(exc))
    except StoreUnavailable as exc:
        if not site.store_url().startswith("sqlite"):  # a database server that does not answer
            schema_problems.append(str(exc))
        # a SQLite store is made by the hub's first start
    if site.courses:
        say(f"site file is valid: {len(site.courses)} course(s) in the catalog")
    else:
        problems.append(
            "There are no courses yet: declare them under 'courses' in the site file, or "
            "`launcher courses apply -f FILE`."
        )
    try:
        cli = dockerhost.client(timeout=10)
    except dockerhost.DockerUnavailable as exc:
        problems.append(str(exc))
    else:
        say(f"Docker engine {cli.version().get('Version', '?')} answers")
        problems += check_images(site, cli, say)
        for note in stale_containers(site, cli):
            print(f"note: {note}")
    units, blocking = host_blockers(site)
    blocking = schema_problems + blocking
    problems += blocking
    if not blocking:
        say(f"GPUs: {len(units)} allocatable unit(s)")
    if units and (hook := hostchecks.nvidia_hook()):
        problems.append(hook)
    free, low = hostchecks.disk(site.data_dir())
    problems += [low] if low else []
    say(f"{free:.0f} GB free on the data directory's disk")
    if site.hub.url.startswith("https") and site.hub.listen:  # served by launcher-https
        cert = hostchecks.certificate(site.hub.url, hostchecks.CERT_WARN_DAYS[site.tls.mode])
        problems += [cert] if cert else []
        if not cert:
            say(f"the certificate of {site.hub.url} is valid ({site.tls.mode})")
    proxy = proxy_problem()
    if proxy is None:
        say("configurable-http-proxy and its Node.js are installed")
    else:
        problems.append(proxy)
        blocking.append(proxy)
    data_dir = site.data_dir()
    hub_pid = pidfiles.running_hub(data_dir)
    left_proxy = pidfiles.running_from(data_dir / pidfiles.PROXY_PID_FILE, pidfiles.PROXY_MARKERS)
    if hub_pid:
        print(f"note: the hub of {data_dir} is running (PID {hub_pid})")
    elif left_proxy:
        print(
            f"note: the proxy (PID {left_proxy}) of a hub of {data_dir} that stopped without "
            "ending it is still running; `launcher up` ends it"
        )
    elif site.hub.proxy == "managed":  # an external proxy answers there, as it should
        with socket.socket() as sock:
            if sock.connect_ex((site.hub.ip, site.hub.port)) == 0:
                print(f"note: {site.hub.url} already answers (another program has the port)")
    return problems, blocking


def cmd_check(args) -> int:
    site = _load(args.config)
    problems, _ = check(site)
    for problem in problems:
        print(f"problem: {problem}")
    if problems:
        print(f"{len(problems)} problem(s) found.")
        return 1
    print("All checks passed.")
    return 0


def hub_argv(extra: list[str]) -> list[str]:
    """JupyterHub's command line; ``extra`` as given after ``launcher up --`` (the ``--``
    itself is argparse's, not JupyterHub's)."""
    extra = extra[1:] if extra[:1] == ["--"] else extra
    return [sys.executable, "-m", "launcher.hub.app", "-f", str(HUB_CONFIG), *extra]


def cmd_up(args) -> int:
    config = Path(args.config or os.environ.get("LAUNCHER_CONFIG") or DEMO_SITE_FILE).resolve()
    site = _load(str(config))
    hub_pid = pidfiles.running_hub(site.data_dir())
    if hub_pid:
        print(
            f"The hub does not start: a hub of {site.data_dir()} is already running (PID "
            f"{hub_pid}). Stop it first (Ctrl-C where it runs, or `kill {hub_pid}`).",
            file=sys.stderr,
        )
        return 1
    try:
        pidfiles.end_left_proxy(site.data_dir(), lambda msg: print(msg, flush=True))
    except pidfiles.LeftProcessError as exc:
        print(f"The hub does not start: {exc}", file=sys.stderr)
        return 1
    problems, blocking = check(site)
    if blocking:
        print(f"The hub does not start: {' '.join(blocking)}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    env = {**os.environ, "LAUNCHER_CONFIG": str(config), "PATH": proxy_path()}
    print(f"Starting the hub at {site.hub.url} (Ctrl-C stops it; workspaces are kept)", flush=True)
    argv = hub_argv(args.hub_args)
    os.execve(sys.executable, argv, env)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    """The `launcher` command's argument parser (also read by the docs' command reference)."""
    parser = argparse.ArgumentParser(prog="launcher", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the hub in the foreground")
    up.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    up.add_argument("hub_args", nargs=argparse.REMAINDER, help="extra JupyterHub arguments")
    chk = sub.add_parser("check", help="validate the site file and the host")
    chk.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    gpus = sub.add_parser("gpus", help="the GPU map: who holds which GPU, since when, quota used")
    gpus.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    gpus.add_argument("--json", action="store_true", help="print JSON instead of a table")
    gpus_sub = gpus.add_subparsers(dest="gpus_command")
    release = gpus_sub.add_parser("release", help="stop the server holding GPU|USER")
    release.add_argument("target", help="GPU index or UUID, or a username")
    release.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    grant = gpus_sub.add_parser("grant", help="give USER extra GPU-hours in COURSE this period")
    grant.add_argument("user")
    grant.add_argument("course")
    grant.add_argument("hours", type=float)
    grant.add_argument("--by", default=os.environ.get("USER", "admin"), help="who grants (audit)")
    grant.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    courses = sub.add_parser("courses", help="list, apply and export the course catalog")
    courses_sub = courses.add_subparsers(dest="courses_command")
    apply = courses_sub.add_parser("apply", help="make the store's catalog match a course file")
    apply.add_argument("-f", "--file", required=True, help="course file (courses: {id: ...})")
    apply.add_argument("--prune", action="store_true", help="remove courses not in the file")
    apply.add_argument("--dry-run", action="store_true", help="print the changes only")
    apply.add_argument("--by", default=os.environ.get("USER", "admin"), help="who (audit log)")
    export = courses_sub.add_parser("export", help="print the store's courses as a course file")
    export.add_argument("-o", "--output", help="write to this file instead of standard output")
    whois = courses_sub.add_parser("whois", help="USER's courses and role in each")
    whois.add_argument("user")
    for p in (courses, apply, export, whois):
        p.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    images = sub.add_parser("images", help="build, check and pre-pull the course images")
    images_sub = images.add_subparsers(dest="images_command", required=True)
    build = images_sub.add_parser("build", help="build a teaching image from images/matrix.yaml")
    build.add_argument("tag", help="a tag of images/matrix.yaml, e.g. 2.13-cpu")
    build.add_argument("build_args", nargs=argparse.REMAINDER, help="options of images/build.sh")
    for name, text in (
        ("prepull", "pull every course image now (those missing)"),
        ("check", "every course image is present or on its registry/mirror"),
    ):
        p = images_sub.add_parser(name, help=text)
        p.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    upgrade = sub.add_parser(
        "upgrade", help="migrate the store and JupyterHub's database to this launcher's schema"
    )
    backup = sub.add_parser("backup", help="one archive of the store and the workspaces")
    backup.add_argument("-o", "--output", help="archive (default: DATA_DIR/backups/...tar.gz)")
    backup.add_argument("--keep", type=int, help="then keep only the N newest in its folder")
    restore = sub.add_parser("restore", help="put back a site, or a course's or student's files")
    restore.add_argument("archive", help="an archive written by `launcher backup`")
    restore.add_argument("--list", action="store_true", help="show what it holds, check it")
    restore.add_argument("--overwrite", action="store_true", help="also workspaces changed since")
    restore.add_argument("--replace-store", action="store_true", help="replace a store with rows")
    for p in (backup, restore):
        p.add_argument("--user", help="only this student's workspaces")
        p.add_argument("--course", help="only this course's workspaces")
    install = sub.add_parser("install", help="the production install on this host (systemd)")
    install.add_argument("--root", default="/", help="write under this folder (a trial)")
    install.add_argument("--no-start", action="store_true", help="write the files only")
    install.add_argument(
        "--db-admin", default="postgres", help="PostgreSQL's administrator role (peer sign-in)"
    )
    install.add_argument(
        "--db-socket", default="/var/run/postgresql", help="PostgreSQL's local socket folder"
    )
    proxy = sub.add_parser("proxy", help="run the students' proxy (hub.proxy: external)")
    export = sub.add_parser("export", help="the site for another platform")
    export.add_argument("target", choices=["z2jh"], help="z2jh: Zero to JupyterHub's values")
    export.add_argument("-o", "--output", help="write to this file instead of standard output")
    export.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    spaces = sub.add_parser("workspaces", help="swarm mode: the node of each workspace")
    spaces_sub = spaces.add_subparsers(dest="workspaces_command")
    move = spaces_sub.add_parser("move", help="copy USER's COURSE workspace to another node")
    move.add_argument("user")
    move.add_argument("course")
    move.add_argument("--to", required=True, help="the node's hostname (docker node ls)")
    move.add_argument(
        "--from-engine", required=True, help="its node's Docker engine, e.g. ssh://root@gpu-a"
    )
    move.add_argument("--to-engine", required=True, help="the new node's Docker engine")
    for p in (upgrade, backup, restore, install, proxy, spaces, move):
        p.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {
        "upgrade": cmd_upgrade,
        "install": cmd_install,
        "proxy": cmd_proxy,
        "export": cmd_export,
        "backup": cmd_backup,
        "restore": cmd_restore,
        "up": cmd_up,
        "check": cmd_check,
        "courses": cmd_courses,
        "gpus": cmd_gpus,
        "images": cmd_images,
        "workspaces": cmd_workspaces,
    }
    return commands[args.command](args)


def cmd_images(args) -> int:
    if args.images_command == "build":
        script = REPO_ROOT / "images" / "build.sh"
        return subprocess.call(["bash", str(script), args.tag, *args.build_args])
    site = _with_catalog(_load(args.config))
    try:
        cli = dockerhost.client(timeout=30)
    except dockerhost.DockerUnavailable as exc:
        print(f"problem: {exc}")
        return 1
    ok = lambda msg: print(f"ok: {msg}")  # noqa: E731
    failed = False
    if args.images_command == "check":
        problems = check_images(site, cli, ok)
        if site.docker.mode == "local":
            for note in stale_containers(site, cli):
                print(f"note: {note}")
    else:  # prepull prints each failure itself
        failures = prepull(cli.api, course_images(site), site.images.prepull_concurrency)
        problems, failed = [], any(failures.values())
    if site.docker.mode == "swarm":  # then on every node, pulled there where it can be
        problems += check_nodes(site, cli, ok)
    for problem in problems:
        print(f"problem: {problem}")
    return 1 if problems or failed else 0


def cmd_workspaces(args) -> int:
    from launcher.cli import workspaces

    site = _load(args.config)
    if args.workspaces_command == "move":
        return workspaces.cmd_move(
            site, args.user, args.course, args.to, args.from_engine, args.to_engine
        )
    return workspaces.cmd_list(site)


def cmd_courses(args) -> int:
    from launcher.cli import courses as coursecli

    site = _load(args.config)
    try:
        if args.courses_command == "apply":
            return coursecli.cmd_apply(site, args.file, args.prune, args.dry_run, args.by)
        if args.courses_command == "export":
            return coursecli.cmd_export(site, args.output)
        if args.courses_command == "whois":
            return coursecli.cmd_whois(site, args.user)
        return coursecli.cmd_list(site)
    except StoreUnavailable as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1


def cmd_gpus(args) -> int:
    from launcher.cli import gpus as gpucli

    site = _load(args.config)
    try:
        site = effective_site(site)
        if args.gpus_command == "release":
            return gpucli.cmd_release(site, args.target)
        if args.gpus_command == "grant":
            return gpucli.cmd_grant(site, args.user, args.course, args.hours, args.by)
        return gpucli.cmd_gpus(site, args.json)
    except StoreUnavailable as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1


def cmd_install(args) -> int:
    from launcher.cli.install import cmd_install as install

    config = Path(args.config or os.environ.get("LAUNCHER_CONFIG") or DEMO_SITE_FILE).resolve()
    site = _load(str(config))
    return install(site, config, Path(args.root), not args.no_start, args.db_admin, args.db_socket)


def cmd_proxy(args) -> int:
    from launcher.cli.proxy import cmd_proxy as proxy

    return proxy(_load(args.config))


def cmd_export(args) -> int:
    import yaml

    from launcher import kubeexport

    site = _with_catalog(_load(args.config))
    text = "# Zero to JupyterHub values, written by `launcher export z2jh`\n" + yaml.safe_dump(
        kubeexport.values(site), sort_keys=False, allow_unicode=True
    )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    for note in kubeexport.notes(site):
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_upgrade(args) -> int:
    from launcher.cli.upgrade import cmd_upgrade as upgrade

    return upgrade(_load(args.config))


def cmd_backup(args) -> int:
    from launcher.cli.backup import cmd_backup as backup

    return backup(_with_catalog(_load(args.config)), args)


def cmd_restore(args) -> int:
    from launcher.cli.backup import cmd_restore as restore

    return restore(_with_catalog(_load(args.config)), args)


if __name__ == "__main__":
    raise SystemExit(main())
