"""The GPU dashboard: a JupyterHub-managed service at ``/services/dashboard/``.

* :mod:`.aggregate`: pure builders (GPU map, queue, quota table, history buckets, samples);
* :mod:`.charts`: pure server-side SVG line charts (no JavaScript, no CDN: works air-gapped);
* :mod:`.metrics`: the Prometheus exposition of a snapshot (pure);
* :mod:`.board`: what the pages show, read from the store and nvidia-smi (the I/O);
* :mod:`.app`: the Tornado handlers (pages, JSON API, ``/metrics``) and the sampler's timer.
"""
