"""images/build.sh reads every field the image labels need through the launcher's one matrix
loader, and names the known tags for an unknown one."""

import subprocess
from pathlib import Path

import pytest

from launcher.images.matrix import load_matrix, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("tag", sorted(load_matrix()))
def test_build_script_reads_the_label_fields(tag, capsys):
    spec = load_matrix()[tag]
    assert main([tag]) == 0  # what build.sh runs: python -m launcher.images.matrix TAG
    fields = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert fields["torch"] == spec.torch
    assert fields["cuda"] == (spec.cuda or "")
    assert fields["cudnn"] == (spec.cudnn or "")
    assert fields["min_driver"] == (spec.min_driver or "")
    assert fields["cuda_arch_list"].split() == list(spec.cuda_arch_list)


def test_an_unknown_tag_is_refused_with_the_known_ones_before_anything_is_built():
    proc = subprocess.run(
        ["bash", str(ROOT / "images/build.sh"), "9.9-nope"], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("build.sh: tag '9.9-nope' is not in the matrix (known: ")
    assert "2.13-cpu" in proc.stderr and "2.14-cuda13.0" in proc.stderr
