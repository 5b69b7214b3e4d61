# Thin on purpose: everything lives in launcher.hub.config. The site file is $LAUNCHER_CONFIG,
# or deploy/demo/launcher.yaml when that is unset.
from launcher.hub.config import load_and_configure

load_and_configure(c)  # noqa: F821 (c is provided by JupyterHub)
