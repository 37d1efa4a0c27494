"""The benchmark's sections, for ``recipes/benchmark.py``, which chooses and prints them: each section module
(``training.py``, ``padding.py``, ``inference.py``, ``streaming.py``, ``timeline.py``, ``onnx_runtime.py``,
``start.py``) has ``measure()`` and ``report()``; ``stages.py`` builds the models as the recipe does and
``measuring.py`` times them in turns with their reference and takes their peak memory.
"""
