"""The names under which the hub knows the launcher's services, and the custom scope of its
metrics: shared by the hub's configuration (which registers them) and the services (their
links to each other, the metrics' access check)."""

#: the JupyterHub service the `launcher` command uses to stop servers (e.g. `gpus release`)
CLI_SERVICE = "launcher-cli"
#: the managed service that enforces session limits
CULLER_SERVICE = "launcher-culler"
#: the instructor page, at /services/courses/
PAGE_SERVICE = "courses"
#: the GPU dashboard, at /services/dashboard/
DASHBOARD_SERVICE = "dashboard"
#: Prometheus scrapes the dashboard's /metrics with the token of this service, whose only
#: scope is the custom one below (an admin's own token works too)
METRICS_SERVICE = "launcher-metrics"
#: the hub's own token for resuming the starts a previous hub left unfinished (in memory only)
RESUME_SERVICE = "launcher-resume"
#: the SSH endpoint (launcher.services.ssh): students' ssh, scp, sftp, VS Code Remote-SSH
SSH_SERVICE = "launcher-ssh"
METRICS_SCOPE = "custom:launcher:read-metrics"
#: the hub's API port, on the students' network's gateway (the proxy sends the hub's pages
#: there, the servers call the hub there)
HUB_API_PORT = 8081
