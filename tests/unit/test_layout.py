"""The package is a house of floors: shared rules at the bottom, the processes (the hub, the
`launcher` command, each managed service) on top. No import runs back up a floor, the processes
do not import each other, and no two modules import each other round a loop."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: lowest first; a module is on the floor of the first entry its dotted name starts with
FLOORS = [
    (
        "launcher.yamlfile",
        "launcher.names",
        "launcher.secrets",
        "launcher.endpoints",
        "launcher.lifecycle",
        "launcher.pidfiles",
        "launcher.dockerhost",
        "launcher.proxycheck",
        "launcher.images",
        "launcher.localtime",
        "launcher.i18n",
        "launcher.schema",
        "launcher.migrations",
        "launcher.hostchecks",
        "launcher.sshendpoint",
        "launcher.sshkeys",
    ),
    ("launcher.settings",),
    ("launcher.courses", "launcher.store", "launcher.signin", "launcher.staff"),
    ("launcher.catalog", "launcher.backup"),
    ("launcher.gpu", "launcher.swarm"),
    ("launcher.board", "launcher.preflight", "launcher.production", "launcher.kubeexport"),
]
PROCESSES = ("launcher.hub", "launcher.cli", "launcher.services")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module -> the launcher modules it imports (anywhere in it, functions included)."""
    modules = {module_name(p): p for p in (ROOT / "launcher").rglob("*.py")}
    found = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        found[name] = {t for t in targets if t in modules and t != name}
    return found


def floor(module: str) -> int:
    for level, prefixes in enumerate(FLOORS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    for process in PROCESSES:
        if module == process or module.startswith(process + "."):
            return len(FLOORS)
    if module == "launcher":
        return -1
    raise AssertionError(f"{module} is on no floor: add it to FLOORS or a process package")


def process_of(module: str) -> str | None:
    return next((p for p in PROCESSES if module.startswith(p + ".") or module == p), None)


def test_no_import_runs_back_up_a_floor_or_across_processes():
    wrong = []
    for module, targets in imports().items():
        for target in targets:
            if floor(target) > floor(module):
                wrong.append(f"{module} -> {target} (up a floor)")
            mine, theirs = process_of(module), process_of(target)
            if mine and theirs and mine != theirs:
                wrong.append(f"{module} -> {target} (another process)")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_loop():
    graph = imports()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    loops = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                loops.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not loops, "\n".join(loops)


def test_the_command_line_reads_the_board_not_the_dashboards_pages():
    cli = {t for m, ts in imports().items() if m.startswith("launcher.cli") for t in ts}
    assert "launcher.board.view" in cli
    assert not any(t.startswith("launcher.services") for t in cli)
