"""The hub process: JupyterHub, with a shutdown that logs no traceback.

``launcher up`` runs ``python -m launcher.hub.app -f jupyterhub_config.py``: JupyterHub itself,
configured by the site file, with one change to how it stops.
"""

from __future__ import annotations

from jupyterhub.app import JupyterHub


class LauncherHub(JupyterHub):
    """JupyterHub whose shutdown stops its periodic checks before its managed services."""

    async def cleanup(self):
        # JupyterHub 6.1 stops the managed services while its periodic callbacks still run
        # (only JupyterHub.stop() stops them, and a signal does not call it); a service
        # health check that falls in that window reads a stopped service's server (None) and
        # logs an AttributeError traceback.
        for callback in self._periodic_callbacks.values():
            callback.stop()
        await super().cleanup()


main = LauncherHub.launch_instance

if __name__ == "__main__":
    main()
