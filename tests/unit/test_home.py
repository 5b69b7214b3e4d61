"""The course home's cards (pure): what a card says and whether it may start, and the hub's
page handlers wrapped for the visitor's language."""

from datetime import datetime

import pytest
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.handlers.pages import HomeHandler, SpawnHandler

from launcher.gpu.quota import Quota, QuotaUse
from launcher.hub import home, pages
from launcher.images.matrix import load_matrix
from launcher.settings import Course

MATRIX = load_matrix()
CPU_TAG = next(tag for tag, spec in MATRIX.items() if spec.is_cpu)
CUDA_TAG = next(tag for tag, spec in MATRIX.items() if not spec.is_cpu)
RESETS = datetime(2026, 12, 6, 16, 0)  # Monday 00:00 in Beijing


def course(tag=CPU_TAG, **extra) -> Course:
    return Course(title="Deep learning", image=f"launcher/pytorch:{tag}", **extra)


def quota_use(used: float, limit: float = 10) -> QuotaUse:
    return QuotaUse(Quota(limit, "week"), used, 0.0, 1, False, RESETS)


def make(c: Course, state="stopped", quota=None, present=True, policy="never", role="student"):
    return home.card(
        "dl101",
        c,
        role,
        server="",
        state=state,
        held=(),
        quota=quota,
        image_present=present,
        pull_policy=policy,
        matrix=MATRIX,
        start_url="/hub/spawn/ann",
        open_url="/user/ann/",
        staff_url="/services/courses/c/dl101",
    )


def test_a_card_names_the_image_its_pytorch_and_cuda():
    cpu = make(course(CPU_TAG))
    assert (cpu.torch, cpu.cuda) == (MATRIX[CPU_TAG].torch, None)
    gpu = make(course(CUDA_TAG, gpu={"per_student": 1}))
    assert (gpu.torch, gpu.cuda, gpu.gpus) == (MATRIX[CUDA_TAG].torch, MATRIX[CUDA_TAG].cuda, 1)
    own = make(Course(title="Own", image="campus/ml:2025"))
    assert (own.torch, own.cuda) == (None, None)


@pytest.mark.parametrize(
    "state, used, present, policy, fallback, blocked",
    [
        ("stopped", 3, True, "never", False, None),
        ("stopped", 10, True, "never", False, home.QUOTA_SPENT),
        ("stopped", 12, True, "never", True, None),  # a CPU session instead
        ("stopped", 3, False, "never", False, home.IMAGE_MISSING),
        ("stopped", 3, False, "if-not-present", False, None),  # downloaded at the start
        ("ready", 10, True, "never", False, None),  # running: it can be opened
    ],
)
def test_a_course_that_cannot_start_says_why_before_the_click(
    state, used, present, policy, fallback, blocked
):
    c = course(CUDA_TAG, gpu={"per_student": 1, "cpu_fallback": fallback})
    found = make(c, state=state, quota=quota_use(used), present=present, policy=policy)
    assert found.blocked == blocked
    assert found.downloads == (not present and policy != "never")


def test_the_quota_shows_what_is_left_and_when_it_resets():
    found = make(course(CUDA_TAG, gpu={"per_student": 1}), quota=quota_use(2.5))
    assert (found.quota_limit, found.quota_left, found.quota_resets) == (10, 7.5, RESETS)
    assert make(course(CPU_TAG), quota=quota_use(2.5)).quota_limit is None  # no GPU, no quota


def test_only_staff_get_the_course_page_link():
    assert make(course(), role="student").staff_url is None
    assert make(course(), role="ta").staff_url == "/services/courses/c/dl101"


def test_every_page_handler_is_localized_and_the_home_shows_cards():
    handlers = pages.localize(
        [("/home", HomeHandler), ("/spawn", SpawnHandler, {"x": 1}), ("/other", object)]
    )
    assert handlers[0][1] is pages.CourseHome
    assert issubclass(handlers[1][1], pages.Localized) and issubclass(handlers[1][1], SpawnHandler)
    assert handlers[1][2] == {"x": 1}
    assert handlers[2][1] is object
    assert all(issubclass(h[1], BaseHandler) for h in handlers[:2])
