"""An exported model on audio, for ``recipes/classify.py``, ``timeline.py``, ``evaluate.py`` and ``app.py``:
``inputs.py`` (``--model`` and the audio inputs), ``backends.py`` (PyTorch or ONNX Runtime), ``result_files.py``
(results written as they come, ``--resume``), ``timeline_files.py`` and ``cross_corpus.py``.
"""
