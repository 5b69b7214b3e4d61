"""The GPU dashboard: a JupyterHub-managed service at ``/services/dashboard/``. What it shows
is the read model of :mod:`launcher.board`; this package is only pages.

* :mod:`.charts`: pure server-side SVG line charts (no JavaScript, no CDN: works air-gapped);
* :mod:`.metrics`: the Prometheus exposition of a :class:`~launcher.board.view.Snapshot` (pure);
* :mod:`.sampler`: writes the GPU history the charts draw (a timer in this process);
* :mod:`.text`: the pages' wording of numbers and times;
* :mod:`.app`: the Tornado handlers (pages, JSON API, ``/metrics``).
"""
