"""Pure builders for a student container: environment, host config, mounts.

No Docker calls here; the spawner passes the results to docker-py.
"""

from __future__ import annotations

from urllib.parse import urlparse

from launcher.settings import Resources
from launcher.sshendpoint import AGENT_FORWARDING_ENV, AUTHORIZED_KEYS_ENV

#: the teaching images' non-root user (images/Dockerfile)
CONTAINER_USER = "1000:100"
HOME = "/home/jovyan"


def container_env(course_id: str, image: str, gpu_ids: list[str] | None = None) -> dict[str, str]:
    """Environment for the container, GPU visibility included.

    With no GPU assigned, ``NVIDIA_VISIBLE_DEVICES=void`` makes the NVIDIA runtime expose no
    device even if the image says ``ENV NVIDIA_VISIBLE_DEVICES=all`` (container env wins over
    image env).
    """
    visible = ",".join(gpu_ids) if gpu_ids else "void"
    return {
        "LAUNCHER_COURSE": course_id,
        "LAUNCHER_IMAGE": image,
        "NVIDIA_VISIBLE_DEVICES": visible,
        "HOME": HOME,
    }


def ssh_env(authorized_keys: str, agent_forwarding: bool = False) -> dict[str, str]:
    """The environment that starts the container's sshd (images/launcher-session) accepting
    ``authorized_keys`` (the hub's SSH endpoint's key), with agent forwarding when the site
    allows it; "" starts none."""
    if not authorized_keys:
        return {}
    env = {AUTHORIZED_KEYS_ENV: authorized_keys}
    if agent_forwarding:
        env[AGENT_FORWARDING_ENV] = "yes"
    return env


#: the session's locale per hub language: JupyterLab's "default" language follows LANG (the
#: images generate both locales); English keeps the image's own C.UTF-8
SESSION_LOCALES = {"zh_CN": "zh_CN.UTF-8"}


def session_language_env(lang: str) -> dict[str, str]:
    """The environment that makes a session read ``lang`` (a hub language: ``en``,
    ``zh_CN``): JupyterLab's language when the student has not picked one in its Settings >
    Language menu, and the language of programs that translate their messages."""
    env = {"LAUNCHER_LANGUAGE": lang}
    found = SESSION_LOCALES.get(lang)
    if found is not None:
        env.update(LANG=found, LANGUAGE=f"{lang}:en")
    return env


#: where the site's CA bundle appears inside a student container
SESSION_CA_PATH = "/etc/launcher/ca-bundle.pem"


def session_mirror_env(pip_index_url: str, ca_bundle: bool) -> dict[str, str]:
    """Environment that sends pip through the site's index and trusts the site's CA bundle."""
    env = {"PIP_INDEX_URL": pip_index_url} if pip_index_url else {}
    if pip_index_url.startswith("http://"):
        # pip ignores a plain-HTTP index unless trusted; an admin who configures one means it
        env["PIP_TRUSTED_HOST"] = urlparse(pip_index_url).netloc
    if ca_bundle:
        for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
            env[var] = SESSION_CA_PATH
    return env


#: a container's log on the engine: at most 3 files of 10 MB (a program printing in a loop
#: cannot fill the host's disk through its log)
LOG_CONFIG = {"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}


def host_config(resources: Resources) -> dict:
    """Least privilege: no capabilities, no privilege escalation, bounded pids and logs."""
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "pids_limit": resources.pids_limit,
        "privileged": False,
        "log_config": LOG_CONFIG,
        # a container that exits stays until the hub has read why (its memory limit, an exit
        # code) and removes it (CourseSpawner.poll); the engine would remove it at once
        "auto_remove": False,
    }


def create_kwargs() -> dict:
    """Keyword arguments merged into docker-py's create_container: always the non-root user."""
    return {"user": CONTAINER_USER, "working_dir": HOME}


def workspace_mount(volume: str) -> dict[str, dict[str, str]]:
    """DockerSpawner ``volumes`` entry: the named volume is the whole home directory."""
    return {volume: {"bind": HOME, "mode": "rw"}}


#: where a course's materials folder appears inside its containers
MATERIALS = HOME + "/materials"


def materials_mount(source: str, mode: str) -> dict[str, dict[str, str]]:
    """DockerSpawner ``volumes`` entry for the course materials (``ro`` or ``rw``)."""
    return {source: {"bind": MATERIALS, "mode": mode}}
