"""Reference pages generated from the code, so that they cannot drift from it.

Three directives, each used once in ``docs/reference/``:

``site-file-keys``
    every key of the site file, from the pydantic models of :mod:`launcher.settings`: its path,
    type, default, limits and the ``Field(description=...)`` (a model's docstring introduces
    its section). The directive's body may add a note to a key, one a line::

        hub.data_dir: default: ``$LAUNCHER_DATA_DIR``, else ...

    A note for a key the models do not have is an error, so a renamed key fails the build.
``launcher-commands``
    every command and option of ``launcher``, from :func:`launcher.cli.main.build_parser`.
``dashboard-metrics``
    every Prometheus metric of the dashboard (name, type, labels, help), from the collector of
    :mod:`launcher.services.dashboard.metrics`.
"""

from __future__ import annotations

import argparse
import os
import re
import types
import typing
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from sphinx.util import logging

log = logging.getLogger(__name__)


# --- small docutils builders -----------------------------------------------------------------


def inline(text: str) -> list[nodes.Node]:
    """``text`` with its `backticked` parts as code."""
    parts = re.split(r"``?([^`]+)``?", text)
    out: list[nodes.Node] = []
    for i, part in enumerate(parts):
        if not part:
            continue
        out.append(nodes.literal(part, part) if i % 2 else nodes.Text(part))
    return out


def para(*content: nodes.Node | str) -> nodes.paragraph:
    p = nodes.paragraph()
    for c in content:
        p += inline(c) if isinstance(c, str) else c
    return p


def sentence(text: str) -> str:
    """``text`` ended with a full stop."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def code(text: str) -> nodes.literal:
    return nodes.literal(text, text)


def table(header: list[str], rows: list[list], widths: list[int]) -> nodes.table:
    """A table; a cell is a string (parsed by :func:`inline`), a paragraph or a list of nodes."""
    tbl = nodes.table(classes=["launcher-reference"])
    group = nodes.tgroup(cols=len(header))
    tbl += group
    for w in widths:
        group += nodes.colspec(colwidth=w)

    def row(cells: list) -> nodes.row:
        r = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            if isinstance(cell, nodes.paragraph):
                entry += cell
            elif isinstance(cell, str):
                entry += para(cell)
            else:
                entry += para(*cell)
            r += entry
        return r

    thead = nodes.thead()
    thead += row(header)
    group += thead
    tbody = nodes.tbody()
    for cells in rows:
        tbody += row(cells)
    group += tbody
    return tbl


def section(directive: Directive, key: str, title: nodes.Node | str) -> nodes.section:
    ident = nodes.make_id(key)
    sect = nodes.section(ids=[ident], names=[ident])
    heading = nodes.title()
    heading += title if isinstance(title, nodes.Node) else nodes.Text(title)
    sect += heading
    directive.state.document.note_implicit_target(sect, sect)
    return sect


# --- the site file ---------------------------------------------------------------------------


def _model_in(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def type_name(annotation) -> str:
    """A reader's name for a field's type: ``integer``, ``list of strings``, ``one of a | b``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        base = args[0]
        names = {getattr(m, "func", None).__name__ for m in args[1:] if hasattr(m, "func")}
        if "_username" in names:
            return "username"
        if "_course_id" in names:
            return "course id"
        if "_image_ref" in names:
            return "image reference"
        return type_name(base)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        named = " or ".join(type_name(a) for a in rest)
        return f"{named} or null" if len(rest) < len(args) else named
    if origin is typing.Literal:
        return "one of " + " | ".join(f"`{a}`" for a in args)
    if origin is list:
        inner = type_name(args[0])
        return f"list of {inner}" + ("" if inner.endswith("s") or "(" in inner else "s")
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    if _model_in(annotation):
        return "mapping (below)"
    return {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        Path: "path",
    }.get(annotation, getattr(annotation, "__name__", str(annotation)))


def yaml_value(value) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return str(value).lower()
    if value == "":
        return '""'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def default_of(field) -> str | None:
    """The default as YAML, or None when the key is required."""
    if field.default_factory is not None:
        return yaml_value(field.default_factory())
    if field.default is PydanticUndefined:
        return None
    return yaml_value(field.default)


def limits_of(field) -> list[str]:
    out = []
    for m in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                out.append(f"{sign} {getattr(m, attr)}")
        if getattr(m, "min_length", None):
            out.append(f"at least {m.min_length} character(s)")
        if getattr(m, "max_length", None):
            out.append(f"at most {m.max_length} characters")
        if getattr(m, "pattern", None):
            out.append(f"matches `{m.pattern}`")
    return out


def site_sections(root: type[BaseModel]) -> list[tuple[str, type[BaseModel], list]]:
    """(path, model, [(key path, field)]) for the root and every nested model, depth first."""
    found = []

    def walk(path: str, model: type[BaseModel]) -> None:
        keys = []
        nested = []
        for name, field in model.model_fields.items():
            key = f"{path}.{name}" if path else name
            keys.append((key, field))
            annotation = field.annotation
            args = typing.get_args(annotation)
            if sub := _model_in(annotation):
                nested.append((key, sub))
            elif typing.get_origin(annotation) is dict and _model_in(args[1]):
                nested.append((f"{key}.<id>", args[1]))
            elif typing.get_origin(annotation) is list and _model_in(args[0]):
                nested.append((f"{key}[]", args[0]))
        found.append((path, model, keys))
        for key, sub in nested:
            walk(key, sub)

    walk("", root)
    return found


class SiteFileKeys(Directive):
    has_content = True

    def notes(self, known: set[str]) -> dict[str, str]:
        notes: dict[str, str] = {}
        current = None
        for line in self.content:
            if not line.strip():
                continue
            if line[:1].isspace() and current:
                notes[current] += " " + line.strip()
                continue
            key, sep, text = line.partition(": ")
            if not sep or key not in known:
                raise self.error(f"site-file-keys: a note for {key!r}, which is no site-file key")
            current = key
            notes[key] = text.strip()
        return notes

    def run(self) -> list[nodes.Node]:
        from launcher.settings import Site

        sections = site_sections(Site)
        known = {key for _, _, keys in sections for key, _ in keys}
        notes = self.notes(known)
        out = []
        for path, model, keys in sections:
            sect = section(self, f"key-{path or 'top-level'}", code(path) if path else "Top level")
            doc = model.__doc__ or ""
            if doc and path:
                sect += para(" ".join(doc.split()).replace("``", "`"))
            rows = []
            for key, field in keys:
                default = default_of(field)
                annotation = field.annotation
                sub = _model_in(annotation)
                text = []
                if field.description:
                    text.append(sentence(field.description))
                if key in notes:
                    text.append(notes[key])
                limits = limits_of(field)
                if limits:
                    text.append("Limits: " + ", ".join(limits) + ".")
                if sub:
                    text.append(f"See `{key}` below.")
                elif typing.get_origin(annotation) in (dict, list) and any(
                    _model_in(a) for a in typing.get_args(annotation)
                ):
                    text.append("Each entry: see below.")
                key_cell = nodes.paragraph()
                key_cell += code(key)
                rows.append(
                    [
                        key_cell,
                        type_name(annotation),
                        "" if sub else ("(required)" if default is None else [code(default)]),
                        " ".join(text),
                    ]
                )
            sect += table(["key", "type", "default", "meaning"], rows, [22, 16, 14, 48])
            out.append(sect)
        return out


# --- the launcher command --------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def _shown_default(action: argparse.Action) -> str:
    default = action.default
    if default in (None, False, argparse.SUPPRESS) or isinstance(action, argparse._HelpAction):
        return ""
    if isinstance(default, str) and default == os.environ.get("USER", "admin"):
        return "$USER, else admin"  # read when the command runs, not when the docs are built
    return str(default)


class LauncherCommands(Directive):
    def run(self) -> list[nodes.Node]:
        from launcher.cli.main import build_parser

        saved = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"  # argparse wraps usage lines at the terminal's width
        try:
            out = []
            self.command(build_parser(), "launcher", "", out)
            return out
        finally:
            if saved is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = saved

    def command(self, parser, name: str, help_text: str, out: list) -> None:
        sect = section(self, f"cmd-{name}", code(name))
        if help_text:
            sect += para(sentence(help_text[0].upper() + help_text[1:]))
        usage = parser.format_usage().removeprefix("usage: ").strip()
        sect += nodes.literal_block(usage, usage, language="text")
        rows = []
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            flags = ", ".join(action.option_strings) or action.metavar or action.dest.upper()
            if action.nargs == argparse.REMAINDER:
                flags = f"{flags} ..."
            what = action.help or ""
            if action.type not in (None, str):
                what += f" ({action.type.__name__})"
            if action.required and action.option_strings:
                what += " (required)"
            rows.append([[code(flags)], what, [code(d)] if (d := _shown_default(action)) else ""])
        if rows:
            sect += table(["argument", "meaning", "default"], rows, [28, 56, 16])
        subs = list(_subcommands(parser))
        if subs:
            listing = nodes.bullet_list()
            for sub_name, sub_help, _ in subs:
                item = nodes.list_item()
                ref = nodes.reference(
                    "", "", internal=True, refid=nodes.make_id(f"cmd-{name} {sub_name}")
                )
                ref += code(f"{name} {sub_name}")
                item += para(ref, nodes.Text(": "), *inline(sub_help or ""))
                listing += item
            sect += listing
        out.append(sect)
        for sub_name, sub_help, sub in subs:
            self.command(sub, f"{name} {sub_name}", sub_help or "", out)


# --- the dashboard's metrics -----------------------------------------------------------------


class DashboardMetrics(Directive):
    def run(self) -> list[nodes.Node]:
        from launcher.board.view import Snapshot
        from launcher.services.dashboard import metrics

        families = list(metrics._SnapshotCollector(Snapshot([], [], [])).collect())
        names = {f.name for f in families}
        missing = set(metrics.HELP) - names
        if missing:  # a metric with help text the collector no longer yields
            raise self.error(f"dashboard-metrics: not collected: {sorted(missing)}")
        rows = []
        for family in families:
            labels = getattr(family, "_labelnames", ())
            rows.append(
                [
                    [code(family.name)],
                    family.type,
                    [n for label in labels for n in (code(label), nodes.Text(" "))],
                    family.documentation,
                ]
            )
        buckets = ", ".join(str(b) for b in metrics.SPAWN_BUCKETS)
        return [
            table(["metric", "type", "labels", "meaning"], rows, [32, 10, 20, 38]),
            para(f"The spawn-duration histogram's buckets (seconds): {buckets} and +Inf."),
        ]


def setup(app):
    app.add_directive("site-file-keys", SiteFileKeys)
    app.add_directive("launcher-commands", LauncherCommands)
    app.add_directive("dashboard-metrics", DashboardMetrics)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
