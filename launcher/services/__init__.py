"""The hub's managed services, each a process of its own that JupyterHub starts:

* :mod:`.culler`: session limits per course (idle, maximum age, GPU idle);
* :mod:`.instructor`: the instructor page at ``/services/courses/``;
* :mod:`.dashboard`: the GPU dashboard at ``/services/dashboard/``, its JSON API and metrics;
* :mod:`.page`: what the two pages share (Hub OAuth, errors as sentences, templates).

Each runs its ``main`` through :func:`launcher.lifecycle.run_service`.
"""
