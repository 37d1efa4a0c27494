"""The fold driver and its launchers, for ``recipes/run_folds.py``: ``runner.py`` (``FoldRunner``: each fold's
and seed's stages, what finished skipped), ``layout.py`` (where the runs go), ``overrides.py`` (an experiment row's
and the command line's settings, merged), ``local_processes.py`` and ``slurm_jobs.py`` (the stages as
subprocesses here or as SLURM jobs), ``folder_lock.py`` and ``stage_progress.py``.
"""
