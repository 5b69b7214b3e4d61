"""GPU inventory, allocation policy, quotas and the broker that hands GPUs to spawns.

Nothing here depends on Docker or JupyterHub: the same catalog, allocator and quotas serve a
KubeSpawner backend.
"""
