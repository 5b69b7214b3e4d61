"""Sphinx configuration of the launcher's documentation (``make docs``).

MyST Markdown pages, JupyterHub's theme (pydata-sphinx-theme), and a local extension
(``_ext/launcher_docs.py``) that writes the reference pages from the code. The build needs no
network: no intersphinx, no remote images, no fonts or scripts from a CDN.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the launcher package, when it is not installed

project = "GPU classroom launcher"
author = "the GPU classroom launcher's maintainers"
copyright = "the GPU classroom launcher's maintainers"  # noqa: A001 (Sphinx's name)

extensions = ["myst_parser", "launcher_docs"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
# the same #heading-links work on GitHub and here
myst_heading_anchors = 4

html_theme = "pydata_sphinx_theme"
html_title = project
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
