"""nvidia-smi parsing (MIG included), declared devices, pool checks."""

import pytest

from launcher.gpu.inventory import (
    InventoryError,
    check_pools,
    from_declared,
    parse_nvidia_smi,
    reconcile_declared,
)

QUERY = """\
0, GPU-aaaa-0000, NVIDIA A100-SXM4-40GB, 40960, Disabled, 8.0, 580.65.06
1, GPU-bbbb-1111, NVIDIA A100-SXM4-40GB, 40960, Enabled, 8.0, 580.65.06
2, GPU-cccc-2222, NVIDIA GeForce RTX 5090, 32607, [N/A], 12.0, 580.65.06
"""
LISTING = """\
GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-aaaa-0000)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-bbbb-1111)
  MIG 3g.20gb     Device  0: (UUID: MIG-1111-aaaa)
  MIG 1g.5gb      Device  1: (UUID: MIG-1111-bbbb)
  MIG 1g.5gb      Device  2: (UUID: MIG-1111-cccc)
GPU 2: NVIDIA GeForce RTX 4090 (UUID: GPU-cccc-2222)
"""


def test_whole_gpus_and_mig_instances_are_units():
    units = parse_nvidia_smi(QUERY, LISTING)
    assert [(u.index, u.uuid, u.mig_profile) for u in units] == [
        ("0", "GPU-aaaa-0000", ""),
        ("1:0", "MIG-1111-aaaa", "3g.20gb"),
        ("1:1", "MIG-1111-bbbb", "1g.5gb"),
        ("1:2", "MIG-1111-cccc", "1g.5gb"),
        ("2", "GPU-cccc-2222", ""),
    ]
    mig = units[2]
    assert mig.gpu_uuid == "GPU-bbbb-1111" and mig.memory_mib == 5 * 1024
    assert units[0].memory_mib == 40960 and units[0].model == "NVIDIA A100-SXM4-40GB"
    assert units[0].driver_version == "580.65.06" and units[0].compute_cap == "8.0"
    assert mig.compute_cap == "8.0" and units[-1].compute_cap == "12.0"
    # a pool entry naming the MIG-enabled GPU selects its instances
    assert mig.matches("1") and mig.matches("GPU-bbbb-1111") and not mig.matches("0")


def test_garbage_is_an_error():
    with pytest.raises(InventoryError):
        parse_nvidia_smi("what\n", "")


def test_declared_devices_must_exist_on_the_host():
    found = parse_nvidia_smi(QUERY, LISTING)
    declared = from_declared(
        [{"index": 0, "uuid": "GPU-aaaa-0000"}, {"index": 7, "uuid": "GPU-dead-beef"}]
    )
    problems = reconcile_declared(declared, found)
    assert len(problems) == 1 and "GPU 7 (GPU-dead-beef)" in problems[0]


def test_pools_must_name_real_gpus():
    units = from_declared([{"index": i, "uuid": f"GPU-{i}"} for i in range(4)])
    assert check_pools(units, {"dl": ["2", "GPU-3"]}) == []
    (problem,) = check_pools(units, {"dl": ["9"]})
    assert "Course dl's gpu.pool names GPU '9'" in problem
