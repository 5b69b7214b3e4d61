"""The image version matrix: loading, per-entry rules, and host checks (table-driven)."""

from dataclasses import replace

import pytest

from launcher.images.compat import (
    CUDA_MIN_DRIVER,
    TORCH_COMPANIONS,
    check_host,
    check_spec,
    host_tags,
    max_cuda_for_driver,
    runs_on,
)
from launcher.images.matrix import FIELDS, MatrixError, load_matrix, tag_for_image

MATRIX = load_matrix()
CU124, CU128, CU130, CPU = (
    MATRIX[t] for t in ("2.6-cuda12.4", "2.8-cuda12.8", "2.14-cuda13.0", "2.13-cpu")
)


# ----------------------------------------------------------------------------- the real matrix
def test_the_matrix_has_the_pinned_tags_in_file_order():
    assert list(MATRIX) == [
        "2.6-cuda12.4",
        "2.8-cuda12.8",
        "2.9-cuda12.8",
        "2.13-cpu",
        "2.14-cuda13.0",
    ]


@pytest.mark.parametrize("tag", list(MATRIX))
def test_every_entry_passes_check_spec(tag):
    assert check_spec(MATRIX[tag]) == []


@pytest.mark.parametrize(
    "tag, torch, cuda, index_url",
    [
        # the two entries that existed before the matrix grew: they must build as before
        ("2.13-cpu", "2.13.0", None, "https://download.pytorch.org/whl/cpu"),
        ("2.14-cuda13.0", "2.14.1", "13.0", None),
    ],
)
def test_existing_entries_build_as_before(tag, torch, cuda, index_url):
    spec = MATRIX[tag]
    assert (spec.torch, spec.python, spec.cuda, spec.base, spec.index_url) == (
        torch,
        "3.11",
        cuda,
        "debian:bookworm-slim",
        index_url,
    )


def test_blackwell_arrives_with_cuda_12_8():
    assert "sm_120" not in CU124.cuda_arch_list
    assert {"sm_100", "sm_120"} <= set(CU128.cuda_arch_list) & set(CU130.cuda_arch_list)
    assert CPU.cuda_arch_list == () and CPU.min_driver is None


# ----------------------------------------------------------------------------- loading
def write(tmp_path, text):
    path = tmp_path / "matrix.yaml"
    path.write_text(text)
    return path


GOOD_ENTRY = {
    "torch": '"2.8.0"',
    "torchvision": '"0.23.0"',
    "torchaudio": '"2.8.0"',
    "python": '"3.11"',
    "cuda": '"12.8"',
    "cudnn": '"9.10.2.21"',
    "base": '"debian:bookworm-slim"',
    "index_url": "null",
    "min_driver": '"570.86.10"',
    "cuda_arch_list": '"sm_80 sm_90 sm_120"',
}


def entry_text(tag="2.8-cuda12.8", **changes):
    fields = {**GOOD_ENTRY, **changes}
    lines = [f"  {name}: {value}" for name, value in fields.items() if value is not ...]
    return "images:\n" + f'  "{tag}":\n' + "\n".join("  " + line for line in lines) + "\n"


def test_a_crafted_good_entry_loads(tmp_path):
    spec = load_matrix(write(tmp_path, entry_text()))["2.8-cuda12.8"]
    assert spec.torchvision == "0.23.0" and spec.index_url is None
    assert spec.cuda_arch_list == ("sm_80", "sm_90", "sm_120")
    assert check_spec(spec) == []


@pytest.mark.parametrize("field", FIELDS)
def test_a_missing_field_names_tag_and_field(tmp_path, field):
    with pytest.raises(MatrixError) as err:
        load_matrix(write(tmp_path, entry_text(**{field: ...})))
    assert "2.8-cuda12.8" in str(err.value) and repr(field) in str(err.value)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"torch": "null"}, ["'torch'", "must not be null"]),
        ({"python": "3.10"}, ["'python'", "3.1", "not a quoted string"]),
        ({"torch": '"2.8"'}, []),  # a two-part version is still a version
        ({"cudnn": '"nine"'}, ["'cudnn'", "not a version"]),
        ({"cuda_arch_list": '"sm_80 ampere"'}, ["'cuda_arch_list'", "'ampere'"]),
        ({"cuda_arch_list": '"sm_80, sm_90"'}, ["'cuda_arch_list'", "'sm_80,'"]),
        ({"base": '""'}, ["'base'", "empty"]),
        ({"cuda_arch": '"sm_80"'}, ["unknown field 'cuda_arch'"]),
    ],
)
def test_malformed_fields_are_refused_with_tag_and_field(tmp_path, changes, words):
    path = write(tmp_path, entry_text(**changes))
    if not words:
        load_matrix(path)
        return
    with pytest.raises(MatrixError) as err:
        load_matrix(path)
    message = str(err.value)
    assert message.startswith("Image 2.8-cuda12.8: ")
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    "text, words",
    [
        ("", ["no `images:` mapping"]),
        ("images: []\n", ["no `images:` mapping"]),
        ("images:\n  [oops\n", ["not valid YAML"]),
        ('images:\n  "a":\n    torch: "1.0"\n  "a":\n    torch: "2.0"\n', ["duplicate key 'a'"]),
        ("images:\n  2.6: {}\n", ["tag 2.6", "not quoted text"]),
        ('images:\n  "x-cpu": "2.6"\n', ["Image x-cpu", "mapping"]),
    ],
)
def test_malformed_files_are_refused(tmp_path, text, words):
    with pytest.raises(MatrixError) as err:
        load_matrix(write(tmp_path, text))
    for word in words:
        assert word in str(err.value)


def test_a_missing_file_is_a_matrix_error(tmp_path):
    with pytest.raises(MatrixError, match="cannot be read"):
        load_matrix(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "ref, tag",
    [
        ("launcher/pytorch:2.6-cuda12.4", "2.6-cuda12.4"),
        ("launcher/pytorch:2.13-cpu@sha256:" + "ab" * 32, "2.13-cpu"),
        ("registry.example.edu:5000/course/pytorch:2.14-cuda13.0", "2.14-cuda13.0"),
    ],
)
def test_tag_for_image(ref, tag):
    assert tag_for_image(ref) == tag


@pytest.mark.parametrize("ref", ["launcher/pytorch", "launcher/pytorch@sha256:" + "ab" * 32])
def test_tag_for_image_without_a_tag(ref):
    with pytest.raises(ValueError, match="no tag"):
        tag_for_image(ref)


# ----------------------------------------------------------------------------- check_spec
@pytest.mark.parametrize(
    "spec, sentence",
    [
        (
            replace(CU128, torchvision="0.22.1"),
            "Image 2.8-cuda12.8: torchvision 0.22.1 does not match torch 2.8.0, "
            "which goes with torchvision 0.23.x.",
        ),
        (
            replace(CU128, torchaudio="2.7.1"),
            "Image 2.8-cuda12.8: torchaudio 2.7.1 does not match torch 2.8.0, "
            "which goes with torchaudio 2.8.x.",
        ),
        (
            replace(CU128, tag="3.0-cuda12.8", torch="3.0.0", torchvision="0.45.0"),
            "Image 3.0-cuda12.8: torch 3.0.0 is not in TORCH_COMPANIONS, "
            "so torchvision 0.45.0 cannot be checked.",
        ),
        (
            replace(CU128, torch="2.9.1"),
            "Image 2.8-cuda12.8: the tag names torch 2.8 but torch is 2.9.1.",
        ),
        (
            replace(CU128, tag="2.8-cpu"),
            "Image 2.8-cpu: the tag ends in -cpu but cuda is 12.8.",
        ),
        (
            replace(CU128, cuda="12.4", min_driver="550.54.14"),
            "Image 2.8-cuda12.8: the tag promises CUDA 12.8 but cuda is 12.4.",
        ),
        (
            replace(CU128, tag="2.8-gpu"),
            "Image 2.8-gpu: the tag ends neither in -cpu nor in -cudaX.Y.",
        ),
        (
            replace(CPU, min_driver="550.54.14"),
            "Image 2.13-cpu: a CPU-only image has no min_driver; set it to null.",
        ),
        (
            replace(CPU, cuda_arch_list=("sm_80",)),
            "Image 2.13-cpu: a CPU-only image has no cuda_arch_list; set it to null.",
        ),
        (
            replace(CPU, cudnn="9.1.0.70"),
            "Image 2.13-cpu: a CPU-only image has no cudnn; set it to null.",
        ),
        (
            replace(CU128, min_driver="550.54.14"),
            "Image 2.8-cuda12.8: min_driver 550.54.14 is too low for CUDA 12.8, "
            "which needs driver >= 570.86.10.",
        ),
        (
            replace(CU128, min_driver=None),
            "Image 2.8-cuda12.8: min_driver is null; CUDA 12.8 needs >= 570.86.10.",
        ),
        (
            replace(CU128, tag="2.8-cuda12.7", cuda="12.7"),
            "Image 2.8-cuda12.7: CUDA 12.7 is not in CUDA_MIN_DRIVER; add its minimum "
            "driver to launcher/images/compat.py.",
        ),
        (
            replace(CU128, cuda_arch_list=()),
            "Image 2.8-cuda12.8: cuda_arch_list is empty; list the GPU architectures (sm_XY) "
            "the torch wheel has kernels for.",
        ),
        (
            replace(CU128, cudnn=None),
            "Image 2.8-cuda12.8: cudnn is null; record the cuDNN the torch wheel pins.",
        ),
    ],
)
def test_each_rule_refuses_a_crafted_bad_spec(spec, sentence):
    assert check_spec(spec) == [sentence]


@pytest.mark.parametrize(
    "spec",
    [
        replace(CU128, torchvision="0.23.0", torchaudio="2.8.0"),
        replace(CU130, torchvision="0.29.1"),  # the local wheels: torch 2.14.1 + vision 0.29.1
        replace(MATRIX["2.9-cuda12.8"], torchvision="0.24.1", torchaudio="2.9.1"),
        replace(CPU, torchvision="0.28.0"),  # torchvision 0.28.0 requires torch==2.13.0
        replace(CU128, min_driver="580.65.06"),  # a higher minimum than needed is allowed
    ],
)
def test_good_variants_pass_check_spec(spec):
    assert check_spec(spec) == []


@pytest.mark.parametrize(
    "torch, vision, audio",
    [
        ("2.0", "0.15", "2.0"),
        ("2.6", "0.21", "2.6"),
        ("2.8", "0.23", "2.8"),
        ("2.9", "0.24", "2.9"),
        ("2.13", "0.28", "2.13"),
        ("2.14", "0.29", "2.14"),
    ],
)
def test_torch_companions(torch, vision, audio):
    assert TORCH_COMPANIONS[torch] == (vision, audio)


# ----------------------------------------------------------------------------- drivers
@pytest.mark.parametrize(
    "driver, cuda",
    [
        ("470.57.02", None),
        ("520.61.05", "11.8"),
        ("525.60.13", "12.0"),
        ("535.183.01", "12.2"),
        ("550.54.14", "12.4"),
        ("550.54.15", "12.4"),
        ("560.35.05", "12.6"),
        ("565.57.01", "12.6"),
        ("570.86.10", "12.8"),
        ("570.124.06", "12.8"),  # numeric, not string, comparison: 124 > 86
        ("575.57.08", "12.9"),
        ("580.65.06", "13.0"),
        ("580.95.05", "13.0"),
        ("590.44.01", "13.1"),
    ],
)
def test_max_cuda_for_driver(driver, cuda):
    assert max_cuda_for_driver(driver) == cuda


def test_the_driver_table_grows_with_cuda():
    order = sorted(CUDA_MIN_DRIVER, key=lambda v: tuple(map(int, v.split("."))))
    drivers = [tuple(map(int, CUDA_MIN_DRIVER[c].split("."))) for c in order]
    assert drivers == sorted(drivers)


@pytest.mark.parametrize("bad", ["", "N/A", "550.x"])
def test_a_malformed_driver_version_is_a_value_error(bad):
    with pytest.raises(ValueError):
        max_cuda_for_driver(bad)


# ----------------------------------------------------------------------------- check_host
def test_an_old_driver_refuses_a_newer_cuda_image():
    assert check_host(CU128, "550.54.14", ["9.0"]) == [
        "The course image 2.8-cuda12.8 needs CUDA 12.8 (driver >= 570.86.10); this server's "
        "NVIDIA driver 550.54.14 supports CUDA up to 12.4. Ask the admin to upgrade the driver "
        "or pin an image built for CUDA 12.4 or older."
    ]


def test_an_old_driver_with_the_matrix_names_the_tags_that_would_run():
    (sentence,) = check_host(CU128, "550.54.14", ["9.0"], MATRIX)
    assert sentence.endswith("Tags of the image matrix that would run here: 2.6-cuda12.4.")


def test_blackwell_refuses_a_cu124_image_and_names_the_cu128_tags():
    (sentence,) = check_host(CU124, "570.124.06", ["12.0", "12.0"], MATRIX)
    assert sentence == (
        "The course image 2.6-cuda12.4 has no kernels for GPU architecture sm_120 "
        "(Blackwell, compute capability 12.0) of this server: its PyTorch is built for "
        "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90 only, so CUDA calls would fail with "
        '"no kernel image is available for execution on the device". '
        "Tags of the image matrix that would run here: 2.8-cuda12.8, 2.9-cuda12.8."
    )


def test_with_no_cuda_tag_that_fits_the_cpu_tags_are_named():
    problems = check_host(CU124, "550.54.14", ["12.0"], MATRIX)
    assert len(problems) == 1 and "sm_120" in problems[0]
    assert problems[0].endswith(
        "No CUDA tag of the image matrix would run here; CPU-only: 2.13-cpu."
    )


@pytest.mark.parametrize(
    "spec, driver, caps, words",
    [
        (CU130, None, ["9.0"], ["needs CUDA 13.0 (driver >= 580.65.06)", "no NVIDIA driver"]),
        (CU130, "470.57.02", [], ["older than any CUDA release", "CUDA 11.8 needs 520.61.05"]),
        (CU128, "570.86.10", ["6.1"], ["sm_61 (Pascal, compute capability 6.1)"]),
        (CU130, "580.65.06", ["7.0"], ["sm_70 (Volta, compute capability 7.0)"]),
    ],
)
def test_other_refusals(spec, driver, caps, words):
    (sentence,) = check_host(spec, driver, caps)
    for word in words:
        assert word in sentence


def test_driver_and_architecture_problems_both_count():
    driver, arch = check_host(CU128, "550.54.14", ["6.1", "9.0"])
    assert "supports CUDA up to 12.4" in driver
    assert "sm_61 (Pascal" in arch


@pytest.mark.parametrize(
    "spec, driver, caps",
    [
        (CU128, "570.86.10", ["9.0"]),  # H100 on a cu128 image
        (CU128, "580.95.05", ["9.0", "9.0", "8.0"]),  # a newer driver runs older CUDA
        (CU128, "570.86.10", ["8.9"]),  # RTX 4090: the sm_86 kernels run on 8.9
        (CU128, "570.86.10", ["12.1"]),  # DGX Spark: sm_120 kernels run on 12.1
        (CU128, "570.86.10", ["10.3"]),  # B300: sm_100 kernels run on 10.3
        (CU124, "550.54.14", ["8.6", "7.5"]),  # RTX 3090 and T4 on cu124
        (CU124, "550.54.14", ["6.1"]),  # GTX 1080: sm_60 on cu124
        (CU130, "580.65.06", ["12.0"]),
        (CU130, "580.65.06", []),  # no GPU given: only the driver is checked
        (CPU, None, []),
        (CPU, "390.48", ["3.5"]),  # CPU images always pass
    ],
)
def test_check_host_passes(spec, driver, caps):
    assert check_host(spec, driver, caps, MATRIX) == []


@pytest.mark.parametrize(
    "driver, caps, tags",
    [
        ("580.65.06", ["12.0"], ["2.8-cuda12.8", "2.9-cuda12.8", "2.14-cuda13.0"]),
        ("570.86.10", ["9.0"], ["2.6-cuda12.4", "2.8-cuda12.8", "2.9-cuda12.8"]),
        ("580.65.06", ["6.1"], ["2.6-cuda12.4"]),
        ("535.54.03", ["8.6"], []),
    ],
)
def test_host_tags(driver, caps, tags):
    assert host_tags(MATRIX, driver, caps) == tags


@pytest.mark.parametrize(
    "archs, cap, ok",
    [
        (("sm_80", "sm_86"), "8.9", True),
        (("sm_86",), "8.0", False),  # a cubin does not run on an older minor
        (("sm_90",), "10.0", False),  # nor on another major
        (("sm_80", "compute_90"), "12.0", True),  # PTX is JIT-compiled for newer GPUs
        (("compute_90",), "8.6", False),
        ((), "9.0", False),
    ],
)
def test_runs_on(archs, cap, ok):
    assert runs_on(archs, cap) is ok


@pytest.mark.parametrize("cap", ["sm_120", "12", "twelve"])
def test_a_malformed_compute_capability_is_a_value_error(cap):
    with pytest.raises(ValueError, match="compute capability"):
        check_host(CU128, "570.86.10", [cap])
