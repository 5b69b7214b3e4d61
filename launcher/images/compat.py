"""Compatibility rules of the teaching images: pure functions and tables, no I/O.

``check_spec`` checks one matrix entry against itself (companion versions, tag vs CUDA,
minimum driver). ``check_host`` says, before a container is started, why an image would not
run on this server: a driver too old for the image's CUDA, or a GPU whose architecture the
image's PyTorch build has no kernels for ("no kernel image is available for execution on
the device"). Both answer a list of sentences; empty means fine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from launcher.images.matrix import ImageSpec

# torch minor -> (torchvision minor, torchaudio minor). torchvision 0.N+15 has gone with
# torch 2.N since 2.0 (the local wheels confirm 2.13 -> 0.28 and 2.14 -> 0.29); torchaudio
# carries torch's own version. Companion wheels pin torch to the same minor.
TORCH_COMPANIONS: dict[str, tuple[str, str]] = {
    f"2.{n}": (f"0.{n + 15}", f"2.{n}") for n in range(15)
}

# CUDA major.minor -> minimum NVIDIA Linux driver: the driver bundled with the toolkit's GA
# runfile (cuda_X.Y.0_DRIVER_linux.run), which is what the launcher requires; see the
# min_driver comment in images/matrix.yaml. CUDA 12.7 was never released.
CUDA_MIN_DRIVER: dict[str, str] = {
    "11.8": "520.61.05",
    "12.0": "525.60.13",
    "12.1": "530.30.02",
    "12.2": "535.54.03",
    "12.3": "545.23.06",
    "12.4": "550.54.14",
    "12.5": "555.42.02",
    "12.6": "560.28.03",
    "12.8": "570.86.10",
    "12.9": "575.51.03",
    "13.0": "580.65.06",
    "13.1": "590.44.01",
}

_NO_KERNEL = "no kernel image is available for execution on the device"
_CUDA_TAG_RE = re.compile(r"-cuda(\d+\.\d+)$")
_ARCH_RE = re.compile(r"(sm|compute)_(\d+)(\d)")
_CAP_RE = re.compile(r"(\d+)\.(\d)")


def version_tuple(version: str) -> tuple[int, ...]:
    """'570.86.10' -> (570, 86, 10); ValueError for anything but dotted numbers."""
    if not re.fullmatch(r"\d+(?:\.\d+)*", version or ""):
        raise ValueError(f"{version!r} is not a version made of dotted numbers.")
    return tuple(int(part) for part in version.split("."))


def minor(version: str) -> str:
    """'2.9.1' -> '2.9'."""
    return ".".join(version.split(".")[:2])


def max_cuda_for_driver(driver_version: str) -> str | None:
    """The newest CUDA of CUDA_MIN_DRIVER that this Linux driver runs; None when none."""
    driver = version_tuple(driver_version)
    fits = [c for c, d in CUDA_MIN_DRIVER.items() if version_tuple(d) <= driver]
    return max(fits, key=version_tuple, default=None)


# ----------------------------------------------------------------------------- check_spec
def check_spec(spec: ImageSpec) -> list[str]:
    """Sentences on what is inconsistent in one matrix entry; empty when it is fine."""
    problems = _check_tag(spec) + _check_companions(spec)
    problems += _check_cpu(spec) if spec.is_cpu else _check_cuda(spec)
    return problems


def _check_tag(spec: ImageSpec) -> list[str]:
    tag, problems = spec.tag, []
    named = tag.split("-", 1)[0]
    if named != minor(spec.torch):
        problems.append(f"Image {tag}: the tag names torch {named} but torch is {spec.torch}.")
    cuda_suffix = _CUDA_TAG_RE.search(tag)
    if tag.endswith("-cpu"):
        if spec.cuda is not None:
            problems.append(f"Image {tag}: the tag ends in -cpu but cuda is {spec.cuda}.")
    elif cuda_suffix is None:
        problems.append(f"Image {tag}: the tag ends neither in -cpu nor in -cudaX.Y.")
    elif spec.cuda != cuda_suffix.group(1):
        problems.append(
            f"Image {tag}: the tag promises CUDA {cuda_suffix.group(1)} "
            f"but cuda is {spec.cuda or 'null'}."
        )
    return problems


def _check_companions(spec: ImageSpec) -> list[str]:
    pairs = TORCH_COMPANIONS.get(minor(spec.torch))
    problems = []
    for name, have, index in (
        ("torchvision", spec.torchvision, 0),
        ("torchaudio", spec.torchaudio, 1),
    ):
        if have is None:
            continue
        if pairs is None:
            problems.append(
                f"Image {spec.tag}: torch {spec.torch} is not in TORCH_COMPANIONS, "
                f"so {name} {have} cannot be checked."
            )
        elif minor(have) != pairs[index]:
            problems.append(
                f"Image {spec.tag}: {name} {have} does not match torch {spec.torch}, "
                f"which goes with {name} {pairs[index]}.x."
            )
    return problems


def _check_cpu(spec: ImageSpec) -> list[str]:
    present = [
        name
        for name, value in (
            ("cudnn", spec.cudnn),
            ("min_driver", spec.min_driver),
            ("cuda_arch_list", spec.cuda_arch_list),
        )
        if value
    ]
    return [
        f"Image {spec.tag}: a CPU-only image has no {name}; set it to null." for name in present
    ]


def _check_cuda(spec: ImageSpec) -> list[str]:
    tag, problems = spec.tag, []
    if not spec.cudnn:
        problems.append(f"Image {tag}: cudnn is null; record the cuDNN the torch wheel pins.")
    if not spec.cuda_arch_list:
        problems.append(
            f"Image {tag}: cuda_arch_list is empty; list the GPU architectures (sm_XY) "
            "the torch wheel has kernels for."
        )
    required = CUDA_MIN_DRIVER.get(spec.cuda)
    if required is None:
        problems.append(
            f"Image {tag}: CUDA {spec.cuda} is not in CUDA_MIN_DRIVER; add its minimum "
            "driver to launcher/images/compat.py."
        )
    elif spec.min_driver is None:
        problems.append(f"Image {tag}: min_driver is null; CUDA {spec.cuda} needs >= {required}.")
    elif version_tuple(spec.min_driver) < version_tuple(required):
        problems.append(
            f"Image {tag}: min_driver {spec.min_driver} is too low for CUDA {spec.cuda}, "
            f"which needs driver >= {required}."
        )
    return problems


# ----------------------------------------------------------------------------- check_host
def check_host(
    spec: ImageSpec,
    driver_version: str | None,
    compute_caps: Iterable[str],
    matrix: Mapping[str, ImageSpec] | None = None,
) -> list[str]:
    """Sentences that refuse a spawn of ``spec`` on a server with this driver and these GPUs.

    driver_version: the NVIDIA driver ("550.54.14"), None or "" when there is none.
    compute_caps: "major.minor" of each GPU the container would get ("12.0" RTX 5090,
    "9.0" H100, "8.6" RTX 3090); duplicates are fine, an empty list checks the driver only.
    ValueError when the driver version or a capability is malformed.
    matrix: when given, each sentence ends with the tags of the matrix that would run here.
    CPU-only images always pass.
    """
    if spec.is_cpu:
        return []
    caps = list(dict.fromkeys(compute_caps))
    problems = _driver_problems(spec, driver_version) + _arch_problems(spec, caps)
    if problems and matrix is not None:
        hint = _suggestion(spec, driver_version, caps, matrix)
        problems = [f"{sentence} {hint}" for sentence in problems]
    return problems


def host_tags(
    matrix: Mapping[str, ImageSpec], driver_version: str | None, compute_caps: Iterable[str]
) -> list[str]:
    """The CUDA tags of the matrix that would run on this server, in matrix order."""
    caps = list(compute_caps)
    return [
        tag
        for tag, spec in matrix.items()
        if not spec.is_cpu and not check_host(spec, driver_version, caps)
    ]


def _required_driver(spec: ImageSpec) -> str | None:
    known = [d for d in (spec.min_driver, CUDA_MIN_DRIVER.get(spec.cuda)) if d]
    return max(known, key=version_tuple, default=None)


def _driver_problems(spec: ImageSpec, driver_version: str | None) -> list[str]:
    required = _required_driver(spec)
    needs = f"The course image {spec.tag} needs CUDA {spec.cuda}"
    if required is None:
        return [
            f"{needs}, whose minimum NVIDIA driver this launcher does not know. Ask the "
            "admin to record min_driver for it in images/matrix.yaml."
        ]
    needs += f" (driver >= {required})"
    if not driver_version:
        return [f"{needs}, but this server has no NVIDIA driver. Ask the admin to install one."]
    if version_tuple(driver_version) >= version_tuple(required):
        return []
    supported = max_cuda_for_driver(driver_version)
    if supported is None:
        oldest = min(CUDA_MIN_DRIVER, key=version_tuple)
        return [
            f"{needs}; this server's NVIDIA driver {driver_version} is older than any CUDA "
            f"release the launcher knows (CUDA {oldest} needs {CUDA_MIN_DRIVER[oldest]}). "
            "Ask the admin to upgrade the driver."
        ]
    return [
        f"{needs}; this server's NVIDIA driver {driver_version} supports CUDA up to "
        f"{supported}. Ask the admin to upgrade the driver or pin an image built for "
        f"CUDA {supported} or older."
    ]


def _arch_problems(spec: ImageSpec, caps: list[str]) -> list[str]:
    built = " ".join(spec.cuda_arch_list) or "no architecture"
    return [
        f"The course image {spec.tag} has no kernels for GPU architecture {sm_name(cap)} "
        f"({arch_name(cap)}, compute capability {cap}) of this server: its PyTorch is built "
        f'for {built} only, so CUDA calls would fail with "{_NO_KERNEL}".'
        for cap in caps
        if not runs_on(spec.cuda_arch_list, cap)
    ]


def _suggestion(
    spec: ImageSpec, driver: str | None, caps: list[str], matrix: Mapping[str, ImageSpec]
) -> str:
    tags = [tag for tag in host_tags(matrix, driver, caps) if tag != spec.tag]
    if tags:
        return f"Tags of the image matrix that would run here: {', '.join(tags)}."
    cpu = [tag for tag, other in matrix.items() if other.is_cpu]
    if cpu:
        return f"No CUDA tag of the image matrix would run here; CPU-only: {', '.join(cpu)}."
    return "No tag of the image matrix would run here."


# ----------------------------------------------------------------------------- architectures
def _capability(cap: str) -> tuple[int, int]:
    match = _CAP_RE.fullmatch(cap.strip())
    if match is None:
        raise ValueError(f"{cap!r} is not a compute capability like '8.6' or '12.0'.")
    return int(match.group(1)), int(match.group(2))


def runs_on(arch_list: Iterable[str], cap: str) -> bool:
    """Whether a build for ``arch_list`` has code a GPU of compute capability ``cap`` runs.

    A cubin sm_XY runs on X.Z for Z >= Y (same major only); PTX compute_XY is compiled by
    the driver for any X.Y or newer.
    """
    major, minor_ = _capability(cap)
    for arch in arch_list:
        match = _ARCH_RE.fullmatch(arch)
        if match is None:
            continue
        kind, a_major, a_minor = match.group(1), int(match.group(2)), int(match.group(3))
        if kind == "sm" and a_major == major and a_minor <= minor_:
            return True
        if kind == "compute" and (a_major, a_minor) <= (major, minor_):
            return True
    return False


_ARCH_NAMES = {5: "Maxwell", 6: "Pascal", 7: "Volta", 8: "Ampere", 9: "Hopper"}
_ARCH_NAMES.update({10: "Blackwell", 11: "Blackwell", 12: "Blackwell"})


def sm_name(cap: str) -> str:
    """'12.0' -> 'sm_120', '8.6' -> 'sm_86'."""
    major, minor_ = _capability(cap)
    return f"sm_{major}{minor_}"


def arch_name(cap: str) -> str:
    """NVIDIA's architecture name for a compute capability ('8.9' -> 'Ada Lovelace')."""
    major, minor_ = _capability(cap)
    special = {(7, 5): "Turing", (8, 9): "Ada Lovelace"}
    return special.get((major, minor_)) or _ARCH_NAMES.get(major, "unknown architecture")
