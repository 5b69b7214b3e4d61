"""GPU classroom launcher: JupyterHub + DockerSpawner for a class on GPU servers."""

__version__ = "0.1.0"
