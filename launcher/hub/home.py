"""The course home: one card per course a person is in (pure builders; the hub's page handler
gathers the facts, launcher.hub.pages).

A card says what the course runs (its image: PyTorch and CUDA), its GPU policy, what the
person holds now (their GPU, their quota), and carries one button: start the course's server,
or open it when it runs. A course that cannot start says why before the click (the quota is
spent, the image is not on this server). Staff see a link to the course's instructor page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from launcher.courses import STAFF
from launcher.gpu.quota import QuotaUse
from launcher.images.matrix import ImageSpec, tag_for_image
from launcher.settings import Course

#: why a course cannot start (the page says it in a sentence)
QUOTA_SPENT = "quota_spent"
IMAGE_MISSING = "image_missing"


@dataclass(frozen=True)
class Card:
    course_id: str
    title: str
    role: str  # student, ta, instructor
    image: str  # as the course names it
    torch: str | None  # from the image matrix, when the tag is in it
    cuda: str | None  # None: CPU only (or unknown, when torch is None too)
    gpus: int  # per student (0: CPU only)
    shared: bool  # students share a GPU (mode shared)
    cpu_fallback: bool  # a CPU session instead of a refusal
    held: tuple[str, ...]  # the GPUs this person's server holds now, described
    quota_limit: float | None  # GPU-hours per period (None: no quota)
    quota_used: float
    quota_period: str
    quota_resets: datetime | None  # naive UTC
    server: str  # the server that runs the course ("": the default server)
    state: str  # ready, pending, stopped
    blocked: str | None  # QUOTA_SPENT, IMAGE_MISSING or None
    downloads: bool  # the first start downloads the image
    start_url: str
    open_url: str
    staff_url: str | None
    warning: tuple[str, datetime] | None = None  # the culler's: (gpu_idle | quota, stop time)

    @property
    def quota_left(self) -> float | None:
        if self.quota_limit is None:
            return None
        return max(self.quota_limit - self.quota_used, 0.0)


def image_facts(image: str, matrix: dict[str, ImageSpec]) -> tuple[str | None, str | None]:
    """(torch, cuda) of a course image from the matrix; (None, None) when its tag is not in
    it (a site's own image)."""
    try:
        spec = matrix.get(tag_for_image(image))
    except ValueError:
        spec = None
    if spec is None:
        return None, None
    return spec.torch, spec.cuda


def card(
    course_id: str,
    course: Course,
    role: str,
    *,
    server: str,
    state: str,
    held: tuple[str, ...],
    quota: QuotaUse | None,
    image_present: bool,
    pull_policy: str,
    matrix: dict[str, ImageSpec],
    start_url: str,
    open_url: str,
    staff_url: str | None,
    warning: tuple[str, datetime] | None = None,
) -> Card:
    """One course's card from the facts the page gathered."""
    torch, cuda = image_facts(course.image, matrix)
    gpus = course.gpu.per_student
    limit = quota.limit if quota is not None and gpus else None
    used = quota.used + 0.0 if quota is not None else 0.0
    blocked = None
    if state == "stopped":
        if not image_present and pull_policy == "never":
            blocked = IMAGE_MISSING
        elif limit is not None and used >= limit and not course.gpu.cpu_fallback:
            blocked = QUOTA_SPENT
    return Card(
        course_id=course_id,
        title=course.title,
        role=role,
        image=course.image,
        torch=torch,
        cuda=cuda,
        gpus=gpus,
        shared=course.gpu.mode == "shared",
        cpu_fallback=course.gpu.cpu_fallback,
        held=held,
        quota_limit=limit,
        quota_used=used,
        quota_period=course.quota.period,
        quota_resets=quota.resets if quota is not None else None,
        server=server,
        state=state,
        blocked=blocked,
        downloads=not image_present and pull_policy != "never",
        start_url=start_url,
        open_url=open_url,
        staff_url=staff_url if role in STAFF else None,
        warning=warning if state == "ready" else None,
    )
