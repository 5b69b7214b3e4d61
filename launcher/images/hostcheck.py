"""Refuse, with a sentence, a GPU server an image cannot run on: before the container starts.

The image says what it needs in labels written at build time from images/matrix.yaml
(``io.launcher.cuda.version``, ``io.launcher.cuda.arch_list``, ``io.launcher.min_driver``);
the inventory says what the host has (driver version, each GPU's compute capability).

The rules are :func:`launcher.images.compat.check_host`'s (whose English sentences serve the
admin's commands); the sentences here are the student's, in the language of the ``_`` they
are given (English by default).
"""

from __future__ import annotations

from collections.abc import Mapping

from launcher.i18n import Translate
from launcher.images.compat import (
    _NO_KERNEL,
    CUDA_MIN_DRIVER,
    _required_driver,
    arch_name,
    host_tags,
    max_cuda_for_driver,
    runs_on,
    sm_name,
    version_tuple,
)
from launcher.images.matrix import ImageSpec, load_matrix

LABEL_CUDA = "io.launcher.cuda.version"
LABEL_ARCHS = "io.launcher.cuda.arch_list"
LABEL_DRIVER = "io.launcher.min_driver"


def spec_from_labels(tag: str, labels: dict[str, str] | None) -> ImageSpec | None:
    """What a built image needs, from its labels; None for a CPU image or an unlabelled one."""
    labels = labels or {}
    cuda = labels.get(LABEL_CUDA) or None
    if cuda is None:
        return None
    return ImageSpec(
        tag=tag,
        torch=labels.get("io.launcher.torch.version", ""),
        torchvision=None,
        torchaudio=None,
        python=labels.get("io.launcher.python.version", ""),
        cuda=cuda,
        cudnn=None,
        base="",
        index_url=None,
        min_driver=labels.get(LABEL_DRIVER) or None,
        cuda_arch_list=tuple((labels.get(LABEL_ARCHS) or "").split()),
    )


def refusals(
    tag: str,
    labels: dict[str, str] | None,
    driver_version: str,
    compute_caps: list[str],
    _: Translate = str,
) -> list[str]:
    """Sentences that stop a spawn of this image on these GPUs (empty: it can run), each
    ending with the matrix's tags that would run here; ValueError for a malformed driver
    version or compute capability."""
    spec = spec_from_labels(tag, labels)
    if spec is None or not (driver_version or compute_caps):
        return []
    try:
        matrix = load_matrix()
    except Exception:  # the matrix only adds suggestions; a deployment may not ship it
        matrix = None
    driver = driver_version or None
    caps = list(dict.fromkeys(c for c in compute_caps if c))
    problems = _driver_problems(spec, driver, _) + _arch_problems(spec, caps, _)
    if problems and matrix is not None:
        hint = _suggestion(spec, driver, caps, matrix, _)
        problems = [f"{sentence} {hint}" for sentence in problems]
    return problems


def _driver_problems(spec: ImageSpec, driver: str | None, _: Translate) -> list[str]:
    required = _required_driver(spec)
    facts = {"tag": spec.tag, "cuda": spec.cuda, "required": required, "driver": driver}
    if required is None:
        return [
            _(
                "The course image {tag} needs CUDA {cuda}, whose minimum NVIDIA driver this "
                "launcher does not know. Ask the admin to record min_driver for it in "
                "images/matrix.yaml."
            ).format(**facts)
        ]
    if not driver:
        return [
            _(
                "The course image {tag} needs CUDA {cuda} (driver >= {required}), but this "
                "server has no NVIDIA driver. Ask the admin to install one."
            ).format(**facts)
        ]
    if version_tuple(driver) >= version_tuple(required):
        return []
    supported = max_cuda_for_driver(driver)
    if supported is None:
        oldest = min(CUDA_MIN_DRIVER, key=version_tuple)
        return [
            _(
                "The course image {tag} needs CUDA {cuda} (driver >= {required}); this "
                "server's NVIDIA driver {driver} is older than any CUDA release the launcher "
                "knows (CUDA {oldest} needs {oldest_driver}). Ask the admin to upgrade the "
                "driver."
            ).format(**facts, oldest=oldest, oldest_driver=CUDA_MIN_DRIVER[oldest])
        ]
    return [
        _(
            "The course image {tag} needs CUDA {cuda} (driver >= {required}); this server's "
            "NVIDIA driver {driver} supports CUDA up to {supported}. Ask the admin to upgrade "
            "the driver or pin an image built for CUDA {supported} or older."
        ).format(**facts, supported=supported)
    ]


def _arch_problems(spec: ImageSpec, caps: list[str], _: Translate) -> list[str]:
    built = " ".join(spec.cuda_arch_list) or _("no architecture")
    return [
        _(
            "The course image {tag} has no kernels for GPU architecture {sm} ({arch}, compute "
            "capability {cap}) of this server: its PyTorch is built for {built} only, so CUDA "
            'calls would fail with "{error}".'
        ).format(
            tag=spec.tag,
            sm=sm_name(cap),
            arch=arch_name(cap),
            cap=cap,
            built=built,
            error=_NO_KERNEL,
        )
        for cap in caps
        if not runs_on(spec.cuda_arch_list, cap)
    ]


def _suggestion(
    spec: ImageSpec,
    driver: str | None,
    caps: list[str],
    matrix: Mapping[str, ImageSpec],
    _: Translate,
) -> str:
    tags = [tag for tag in host_tags(matrix, driver, caps) if tag != spec.tag]
    if tags:
        return _("Tags of the image matrix that would run here: {tags}.").format(
            tags=", ".join(tags)
        )
    cpu = [tag for tag, other in matrix.items() if other.is_cpu]
    if cpu:
        return _("No CUDA tag of the image matrix would run here; CPU-only: {tags}.").format(
            tags=", ".join(cpu)
        )
    return _("No tag of the image matrix would run here.")
