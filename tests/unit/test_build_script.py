"""images/build.sh reads every field the image labels need, with PyYAML and without."""

import subprocess
from pathlib import Path

import pytest

from launcher.images.matrix import load_matrix

ROOT = Path(__file__).resolve().parents[2]


def read_matrix(tag: str, with_yaml: bool) -> dict[str, str]:
    script = (ROOT / "images" / "build.sh").read_text()
    function = script[
        script.index("read_matrix() {") : script.index("\n}\n", script.index("read_matrix() {")) + 3
    ]
    cmd = f'MATRIX={ROOT}/images/matrix.yaml\n{function}\nread_matrix "$1"'
    if not with_yaml:
        cmd = 'command() { [ "$2" = python3 ] && return 1; builtin command "$@"; }\n' + cmd
    out = subprocess.run(
        ["bash", "-c", cmd, "bash", tag], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


@pytest.mark.parametrize("with_yaml", [True, False])
@pytest.mark.parametrize("tag", sorted(load_matrix()))
def test_build_script_reads_the_label_fields(tag, with_yaml):
    spec = load_matrix()[tag]
    fields = read_matrix(tag, with_yaml)
    assert fields["torch"] == spec.torch
    assert fields["cuda"] == (spec.cuda or "")
    assert fields["cudnn"] == (spec.cudnn or "")
    assert fields["min_driver"] == (spec.min_driver or "")
    assert fields["cuda_arch_list"].split() == list(spec.cuda_arch_list)
