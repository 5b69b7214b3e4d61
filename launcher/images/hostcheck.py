"""Refuse, with a sentence, a GPU server an image cannot run on: before the container starts.

The image says what it needs in labels written at build time from images/matrix.yaml
(``io.launcher.cuda.version``, ``io.launcher.cuda.arch_list``, ``io.launcher.min_driver``);
the inventory says what the host has (driver version, each GPU's compute capability).
"""

from __future__ import annotations

from launcher.images.compat import check_host
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
    tag: str, labels: dict[str, str] | None, driver_version: str, compute_caps: list[str]
) -> list[str]:
    """Sentences that stop a spawn of this image on these GPUs (empty: it can run)."""
    spec = spec_from_labels(tag, labels)
    if spec is None or not (driver_version or compute_caps):
        return []
    try:
        matrix = load_matrix()
    except Exception:  # the matrix only adds suggestions; a deployment may not ship it
        matrix = None
    return check_host(spec, driver_version or None, [c for c in compute_caps if c], matrix)
