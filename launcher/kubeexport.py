"""Zero to JupyterHub values from the site file and the catalog (``launcher export z2jh``):
the road to Kubernetes, on paper. Pure: a site in, a values dictionary and notes out.

- Each course is a KubeSpawner profile (``singleuser.profileList``): its pinned image, its
  memory and CPU limits, its GPUs as extended resources (``nvidia.com/gpu``, or
  ``nvidia.com/mig-<profile>`` for MIG instances), ``LAUNCHER_COURSE`` in the environment.
- A user sees only the profiles of their courses (rosters and groups; admins see all): a
  small ``hub.extraConfig`` wraps the chart's profile list in a function of the spawner.
- Every course image is pre-pulled (``prePuller.extraImages``); idle servers are culled by
  the chart's jupyterhub-idle-culler (``cull``).

What does not carry over (the notes say it for the site at hand): GPU-hour quotas, the GPU
queue and the dashboard (launcher services on the store), GPU-idle culling, course pools of
GPU indices, per-course idle limits (the chart has one), shared GPUs (NVIDIA's device plugin
does time-slicing), materials folders (a shared volume to declare).
"""

from __future__ import annotations

import json

from launcher.settings import Course, Site

#: the ``hub.extraConfig`` entry that filters the profiles by course membership
EXTRA_CONFIG_KEY = "launcher-courses"

_FILTER = """\
# Written by `launcher export z2jh`: each user sees the profiles of their own courses.
import json as _json

_LAUNCHER_COURSES = _json.loads(%r)
_LAUNCHER_PROFILES = c.KubeSpawner.profile_list


def _launcher_profiles(spawner):
    user = spawner.user
    groups = {g.name for g in getattr(user, "groups", [])}
    return [
        p
        for p in _LAUNCHER_PROFILES
        if user.admin
        or user.name in _LAUNCHER_COURSES[p["slug"]]["members"]
        or groups & set(_LAUNCHER_COURSES[p["slug"]]["groups"])
    ]


c.KubeSpawner.profile_list = _launcher_profiles
"""


def split_image(ref: str) -> tuple[str, str]:
    """``registry:5000/a/b:tag`` -> (``registry:5000/a/b``, ``tag``) (pure)."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, "latest"
    return name, tag


def gpu_limits(course: Course) -> dict[str, str]:
    """The extended resources of one student's pod."""
    if not course.gpu.per_student:
        return {}
    if course.gpu.mig_profile:
        return {f"nvidia.com/mig-{course.gpu.mig_profile}": str(course.gpu.per_student)}
    return {"nvidia.com/gpu": str(course.gpu.per_student)}


def profile(course_id: str, course: Course) -> dict:
    override = {
        "image": course.image,
        "mem_limit": course.resources.mem_limit,
        "cpu_limit": course.resources.cpu_limit,
        "environment": {"LAUNCHER_COURSE": course_id},
    }
    limits = gpu_limits(course)
    if limits:
        override["extra_resource_limits"] = limits
    gpus = f", {course.gpu.per_student} GPU" if course.gpu.per_student else ""
    return {
        "display_name": course.title,
        "slug": course_id,
        "description": f"{course.image}{gpus}",
        "kubespawner_override": override,
    }


def values(site: Site) -> dict:
    """The chart's values for ``site`` (its catalog included)."""
    courses = dict(sorted(site.courses.items()))
    first = next(iter(courses.values()), None)
    name, tag = split_image(first.image) if first else ("quay.io/jupyter/base-notebook", "latest")
    membership = {
        cid: {"members": c.members, "groups": sorted({*c.groups.students, *c.groups.tas,
                                                      *c.groups.instructors})}
        for cid, c in courses.items()
    }  # fmt: skip
    idle = [c.session.idle_timeout for c in courses.values() if c.session.idle_timeout]
    ages = [c.session.max_age for c in courses.values()]
    return {
        "hub": {
            "config": {
                "Authenticator": {
                    "admin_users": sorted(site.admins),
                    "allowed_users": sorted({m for c in courses.values() for m in c.members}),
                },
                "JupyterHub": {"allow_named_servers": False},
            },
            "extraConfig": {EXTRA_CONFIG_KEY: _FILTER % json.dumps(membership)},
        },
        "singleuser": {
            "image": {"name": name, "tag": tag},
            "uid": 1000,
            "fsGid": 100,
            "defaultUrl": "/lab",
            "storage": {"type": "dynamic", "homeMountPath": "/home/jovyan"},
            "profileList": [profile(cid, c) for cid, c in courses.items()],
        },
        "prePuller": {
            "hook": {"enabled": True},
            "continuous": {"enabled": True},
            "extraImages": {
                f"course-{cid}": dict(zip(("name", "tag"), split_image(c.image), strict=True))
                for cid, c in courses.items()
            },
        },
        "cull": {
            "enabled": bool(idle),
            "timeout": max(idle) if idle else 3600,
            "every": site.hub.cull_interval,
            "maxAge": max(ages) if ages and all(ages) else 0,
        },
    }


def notes(site: Site) -> list[str]:
    """What of this site does not carry over to the chart (one sentence each)."""
    found = [
        "GPU-hour quotas, the GPU queue and the GPU dashboard are launcher services on its "
        "store: they do not run under the chart (Kubernetes refuses a pod beyond the free GPUs "
        "instead of queueing it).",
    ]
    courses = site.courses
    if any(c.quota.gpu_hours for c in courses.values()):
        found.append("Courses with gpu-hour quotas lose them.")
    if any(c.gpu.mode == "shared" for c in courses.values()):
        found.append(
            "Shared GPUs: configure time-slicing in NVIDIA's device plugin (replicas = "
            "max_students_per_gpu); the export asks for nvidia.com/gpu."
        )
    if any(c.gpu.pool for c in courses.values()):
        found.append("GPU pools name this host's GPUs: use node selectors or labels instead.")
    idle = {c.session.idle_timeout for c in courses.values() if c.session.idle_timeout}
    if len(idle) > 1:
        found.append(f"Idle limits differ by course ({sorted(idle)} s); the chart culls all "
                     f"servers after {max(idle)} s.")  # fmt: skip
    if any(c.session.gpu_idle_timeout and c.gpu.per_student for c in courses.values()):
        found.append("GPU-idle culling is the launcher's culler: it does not carry over.")
    if any(c.materials.enabled for c in courses.values()):
        found.append(
            "Materials folders: declare a shared volume (singleuser.storage.extraVolumes)."
        )
    if site.ssh.enabled and any(c.ssh.enabled for c in courses.values()):
        found.append(
            "The SSH endpoint (ssh, scp, VS Code Remote-SSH into the students' servers) is a "
            "launcher service: it does not run under the chart."
        )
    return found
