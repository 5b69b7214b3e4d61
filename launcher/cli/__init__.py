"""The ``launcher`` command (:mod:`.main`, also ``python -m launcher.cli``): ``up``, ``check``,
and the ``courses`` (:mod:`.courses`), ``gpus`` (:mod:`.gpus`) and ``images``
(:mod:`.imagechecks`) commands."""
