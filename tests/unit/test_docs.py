"""The documentation builds with no warning, its generated reference pages list what the code
has (site-file keys, commands, metrics, the dashboard's routes), and the README's links lead
to files that exist."""

import html
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from launcher.cli.main import build_parser
from launcher.services.dashboard.metrics import HELP
from launcher.settings import Site

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    command += ["-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    return out / "html"


def text_of(page: Path) -> str:
    """The page's text: tags dropped, entities decoded, runs of white space made one space."""
    body = re.sub(r"<[^>]+>", "", page.read_text())
    return " ".join(html.unescape(body).split())


def site_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = prefix + name
        keys.append(key)
        annotation, args = field.annotation, typing.get_args(field.annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += site_keys(annotation, key + ".")
        elif typing.get_origin(annotation) is dict and issubclass(args[1], BaseModel):
            keys += site_keys(args[1], key + ".<id>.")
        elif typing.get_origin(annotation) is list and isinstance(args[0], type):
            if issubclass(args[0], BaseModel):
                keys += site_keys(args[0], key + "[].")
    return keys


def test_the_docs_build_without_warnings(built):
    assert (built / "index.html").is_file()
    for page in ("tutorial/first-class", "howto/production", "reference/site-file", "signin"):
        assert (built / f"{page}.html").is_file(), page


def test_the_site_file_reference_lists_every_key(built):
    text = text_of(built / "reference" / "site-file.html")
    for key in ("hub.timezone", "store.url", "courses.<id>.gpu.per_student", "auth.kind"):
        assert key in text
    missing = [key for key in site_keys(Site) if key not in text]
    assert not missing, f"site-file keys missing from the reference: {missing}"
    # a default and a description, as the model declares them
    assert "Asia/Shanghai" in text and "http://127.0.0.1:8000" in text


def test_the_command_reference_lists_every_command(built):
    text = text_of(built / "reference" / "cli.html")
    assert "launcher courses apply" in text and "--prune" in text

    def commands(parser, name):
        yield name
        for action in parser._actions:
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                for sub, subparser in action.choices.items():
                    yield from commands(subparser, f"{name} {sub}")

    missing = [c for c in commands(build_parser(), "launcher") if c not in text]
    assert not missing, f"commands missing from the reference: {missing}"


def test_the_metrics_reference_lists_every_metric(built):
    text = text_of(built / "reference" / "metrics.html")
    missing = [name for name in HELP if name not in text]
    assert not missing, f"metrics missing from the reference: {missing}"


def test_the_http_reference_lists_the_dashboards_api(built):
    source = (ROOT / "launcher" / "services" / "dashboard" / "app.py").read_text()
    routes = re.findall(r'\("(api/\w+|metrics|me|admin|grant)"', source)
    assert "api/gpus" in routes
    text = text_of(built / "reference" / "http.html")
    missing = [route for route in routes if route not in text]
    assert not missing, f"dashboard routes missing from reference/http.md: {missing}"


def test_the_readme_links_to_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [link.split("#")[0] for link in links if not re.match(r"[a-z]+:", link)]
    assert any(link.startswith("docs/") for link in local)
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"
    for page in ("docs/tutorial/first-class.md", "docs/reference/site-file.md"):
        assert page in local, f"README does not link {page}"


def test_the_readme_quick_start_is_two_commands():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\n.*?```sh\n(.*?)```", readme, re.S).group(1)
    assert [line.split("#")[0].strip() for line in block.splitlines()] == ["make up", "make test"]
