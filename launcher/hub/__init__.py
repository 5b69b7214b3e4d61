"""The hub process: JupyterHub (:mod:`.app`), configured from the site file (:mod:`.config`),
with the course spawner (:mod:`.spawner`, its container settings in :mod:`.container`) and
the class-password and campus sign-in authenticators (:mod:`.auth`)."""
