"""Labels of a built image -> what it needs; refusals on a host that cannot run it."""

from launcher.images.hostcheck import refusals, spec_from_labels

CU128 = {
    "io.launcher.cuda.version": "12.8",
    "io.launcher.cuda.arch_list": "sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120",
    "io.launcher.min_driver": "570.86.10",
    "io.launcher.torch.version": "2.8.0",
}
CU124 = {
    **CU128,
    "io.launcher.cuda.version": "12.4",
    "io.launcher.min_driver": "550.54.14",
    "io.launcher.cuda.arch_list": "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90",
}


def test_cpu_or_unlabelled_images_need_nothing():
    assert spec_from_labels("2.13-cpu", {"io.launcher.cuda.version": ""}) is None
    assert spec_from_labels("x", None) is None
    assert refusals("2.13-cpu", {}, "470.00.00", ["12.0"]) == []


def test_labels_become_a_spec():
    spec = spec_from_labels("2.8-cuda12.8", CU128)
    assert spec.cuda == "12.8" and spec.min_driver == "570.86.10"
    assert "sm_120" in spec.cuda_arch_list


def test_old_driver_is_refused_with_a_sentence():
    (problem, *_) = refusals("2.8-cuda12.8", CU128, "550.54.14", ["8.0"])
    assert "needs CUDA 12.8" in problem and "550.54.14" in problem


def test_blackwell_gpu_needs_an_image_built_for_it():
    problems = refusals("2.6-cuda12.4", CU124, "580.65.06", ["12.0"])
    assert problems and "sm_120" in " ".join(problems)
    assert refusals("2.8-cuda12.8", CU128, "580.65.06", ["12.0", "8.0"]) == []
