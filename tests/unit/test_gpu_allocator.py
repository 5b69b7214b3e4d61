"""The allocation policy, table-driven."""

import pytest

from launcher.gpu.allocator import GpuPolicy, Holding, Shortage, choose
from launcher.gpu.inventory import from_declared

FOUR = from_declared([{"index": i, "uuid": f"GPU-{i}"} for i in range(4)])
MIG = from_declared(
    [
        {"index": "0:0", "uuid": "MIG-a", "gpu_uuid": "GPU-0", "mig_profile": "1g.5gb"},
        {"index": "0:1", "uuid": "MIG-b", "gpu_uuid": "GPU-0", "mig_profile": "1g.5gb"},
        {"index": "0:2", "uuid": "MIG-c", "gpu_uuid": "GPU-0", "mig_profile": "3g.20gb"},
    ]
)


def held(*pairs):
    return [Holding(unit, user, course) for unit, user, course in pairs]


@pytest.mark.parametrize(
    "units, holdings, policy, expected",
    [
        (FOUR, [], GpuPolicy(per_student=0), []),
        (FOUR, [], GpuPolicy(per_student=1), ["GPU-0"]),
        (FOUR, held(("GPU-0", "a", "dl")), GpuPolicy(per_student=1), ["GPU-1"]),
        (FOUR, [], GpuPolicy(per_student=2), ["GPU-0", "GPU-1"]),
        (FOUR, [], GpuPolicy(per_student=1, pool=("2", "3")), ["GPU-2"]),
        (
            FOUR,
            held(("GPU-2", "a", "dl"), ("GPU-3", "b", "dl")),
            GpuPolicy(per_student=1, pool=("2", "3")),
            Shortage("pool", 2, 2),
        ),
        # shared: least loaded first, then fills up to N per GPU
        (
            FOUR[:2],
            held(("GPU-0", "a", "dl")),
            GpuPolicy(per_student=1, mode="shared", max_students_per_gpu=2),
            ["GPU-1"],
        ),
        (
            FOUR[:1],
            held(("GPU-0", "a", "dl")),
            GpuPolicy(per_student=1, mode="shared", max_students_per_gpu=2),
            ["GPU-0"],
        ),
        (
            FOUR[:1],
            held(("GPU-0", "a", "dl"), ("GPU-0", "b", "dl")),
            GpuPolicy(per_student=1, mode="shared", max_students_per_gpu=2),
            Shortage("pool", 1, 1),
        ),
        # never shared with another course, even in shared mode
        (
            FOUR[:1],
            held(("GPU-0", "a", "other")),
            GpuPolicy(per_student=1, mode="shared", max_students_per_gpu=4),
            Shortage("pool", 1, 1),
        ),
        # course cap
        (
            FOUR,
            held(("GPU-0", "a", "dl")),
            GpuPolicy(per_student=1, max_gpus=1),
            Shortage("course_cap", 1, 1),
        ),
        # MIG: only instances of the course's profile; whole GPUs are not MIG units
        (MIG, [], GpuPolicy(per_student=1, mig_profile="1g.5gb"), ["MIG-a"]),
        (
            MIG,
            held(("MIG-a", "a", "dl")),
            GpuPolicy(per_student=1, mig_profile="1g.5gb"),
            ["MIG-b"],
        ),
        (MIG, [], GpuPolicy(per_student=1), Shortage("no_units", 0, 0)),
        (FOUR, [], GpuPolicy(per_student=1, mig_profile="1g.5gb"), Shortage("no_units", 0, 0)),
    ],
)
def test_choose(units, holdings, policy, expected):
    assert choose(units, holdings, policy, "dl") == expected
