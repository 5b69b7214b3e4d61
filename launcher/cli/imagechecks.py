"""`launcher check` for images: each course pin is present, or on its registry/mirror (and in
swarm mode on every node); and running containers whose image no longer matches their
course's pin are reported."""

from __future__ import annotations

from collections.abc import Callable

import docker.errors

from launcher import swarm
from launcher.images.refs import parse
from launcher.images.refs import resolve as resolve_image
from launcher.images.registry import check_tag
from launcher.preflight import course_images
from launcher.settings import Site


def check_images(site: Site, client, ok: Callable[[str], None]) -> list[str]:
    """Sentences for every course image that a student could not get."""
    problems = []
    mirror = site.images.registry_mirror
    for course_id, course in site.courses.items():
        ref = resolve_image(course.image, mirror)
        try:
            client.api.inspect_image(ref)
            ok(f"course {course_id}: image {ref} is present")
            continue
        except docker.errors.ImageNotFound:
            pass
        if site.images.pull_policy == "never":
            tag = parse(course.image).tag
            problems.append(
                f"course {course_id}: image {ref} is not on this host and pulling is off "
                f"(images.pull_policy: never); build it with `launcher images build {tag}`."
            )
            continue
        missing = check_tag(client, ref)
        if missing:
            problems.append(f"course {course_id}: {missing}")
        else:
            ok(f"course {course_id}: image {ref} is on its registry (pulled at first start)")
    return problems


def check_nodes(site: Site, client, ok: Callable[[str], None]) -> list[str]:
    """Swarm mode: sentences for every course image a node of the swarm has not got, after
    each active node was made to pull it where it can (swarm.images_on_nodes)."""
    problems = []
    for ref, node, why in swarm.course_images_on_nodes(
        client, course_images(site), site.docker.prefix
    ):
        if why:
            problems.append(why)
        else:
            ok(f"image {ref} is on node {node}")
    return problems


def stale_containers(site: Site, client) -> list[str]:
    """Notes for running student containers whose image is not their course's pin any more.

    They keep running; their next start recreates them from the new pin.
    """
    mirror = site.images.registry_mirror
    notes = []
    for container in client.containers.list(filters={"name": site.docker.prefix + "_"}):
        image = container.attrs["Config"]["Image"]
        env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"] if "=" in e)
        course = env.get("LAUNCHER_COURSE", "")
        pin = resolve_image(site.courses[course].image, mirror) if course in site.courses else None
        if pin and image != pin:
            notes.append(
                f"{container.name} runs {image}, but course {course} now pins {pin}; "
                "it gets the new image at its next start."
            )
    return notes
