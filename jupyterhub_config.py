# Thin on purpose: everything lives in launcher.hubconfig. The site file is $LAUNCHER_CONFIG,
# or deploy/demo/launcher.yaml when that is unset.
from launcher.hubconfig import load_and_configure

load_and_configure(c)  # noqa: F821 (c is provided by JupyterHub)
