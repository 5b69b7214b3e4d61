"""The proxy's Node.js: too old, missing or fine, each said in a sentence."""

import json
import os
import stat

from launcher.proxycheck import node_major_needed, proxy_path, proxy_problem


def fake_program(folder, name: str, output: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def proxy_install(tmp_path, engines: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_program(bin_dir, "configurable-http-proxy", "5.3.0")
    package = tmp_path / "package.json"
    package.write_text(
        json.dumps({"name": "configurable-http-proxy", "engines": {"node": engines}})
    )
    return bin_dir, package


def test_the_installed_proxys_own_requirement_is_read():
    assert node_major_needed() == 20  # node_modules/configurable-http-proxy 5.3.0: ">= 20"


def test_a_node_older_than_the_proxy_needs_is_refused_with_both_versions(tmp_path):
    bin_dir, package = proxy_install(tmp_path, ">= 20")
    fake_program(bin_dir, "node", "v18.19.0")
    problem = proxy_problem(str(bin_dir), package)
    assert problem.startswith("configurable-http-proxy needs Node.js 20 or newer, and ")
    assert f"{bin_dir}/node is 18.19.0; run `make setup`" in problem


def test_a_new_enough_node_passes(tmp_path):
    bin_dir, package = proxy_install(tmp_path, ">= 20")
    fake_program(bin_dir, "node", "v22.12.0")
    assert proxy_problem(str(bin_dir), package) is None


def test_no_node_and_no_proxy_are_sentences(tmp_path):
    bin_dir, package = proxy_install(tmp_path, ">= 20")
    assert "there is no `node` on the PATH" in proxy_problem(str(bin_dir), package)
    assert proxy_problem(str(tmp_path), package).startswith(
        "configurable-http-proxy is not installed; run `make setup`"
    )


def test_the_hub_finds_the_proxy_and_the_environments_node_first():
    first, second, *rest = proxy_path("/usr/bin").split(os.pathsep)
    assert first.endswith("node_modules/.bin") and os.path.isfile(f"{second}/python")
    assert rest == ["/usr/bin"]
