"""The exported model folder and the Hugging Face Hub, for ``recipes/export.py`` and ``recipes/upload.py``:
``model_folder.py`` (what an export writes and checks), ``inference_bundle.py`` (the inference code it carries),
``model_card.py``, ``onnx_export.py`` (its ONNX graphs), ``space.py`` and ``space_app.py`` (the Space serving the
page to try it) and ``upload_plans.py``.
"""
