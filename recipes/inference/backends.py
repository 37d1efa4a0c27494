"""An exported model folder loaded for inference, with PyTorch (SpeechBrain's ``foreign_class`` on the folder's
``custom_interface.py``) or with ONNX Runtime (its ``onnx_interface.py``, which imports neither torch nor
SpeechBrain), and the ``--backend``, ``--device`` and ``--threads`` options that choose between them.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import hashlib
import importlib.util
import os
import sys

from recipes.inference.inputs import InputError

# --backend: SpeechBrain's foreign_class on the folder's custom_interface.py, or its onnx_interface.py (ONNX
# Runtime, no torch) on model.onnx or model.int8.onnx.
BACKENDS = {"pytorch": None, "onnx": "fp32", "onnx_int8": "int8"}


def load_model(model_folder, device="cpu", backend="pytorch", threads=None):
    """Loads an exported model folder: with SpeechBrain's ``foreign_class`` (``pytorch``), or with its own
    ``onnx_interface.py`` (``onnx``, ``onnx_int8``), which imports neither torch nor SpeechBrain.

    Arguments
    ---------
    model_folder : str
    device : str
        A torch device (the ONNX backends run on the CPU).
    backend : str
        One of ``BACKENDS``.
    threads : int, optional
        Intra-op threads (torch's or ONNX Runtime's; default: theirs).
    """
    marker = "custom_interface.py" if backend == "pytorch" else "onnx_interface.py"
    if not os.path.isfile(os.path.join(model_folder, marker)):
        how = "recipes/export.py" if backend == "pytorch" else "recipes/export.py --onnx"
        raise InputError(f"--model {model_folder} has no {marker}: export it with {how}.")
    if backend == "pytorch":
        import torch
        from speechbrain.inference.interfaces import foreign_class

        if threads:
            torch.set_num_threads(threads)
        model = foreign_class(
            source=model_folder,
            pymodule_file="custom_interface.py",
            classname="EmotionRecognizer",
            run_opts={"device": device},
        )
    else:
        interface = import_onnx_interface(os.path.join(model_folder, marker))
        try:
            model = interface.OnnxEmotionRecognizer(model_folder, precision=BACKENDS[backend], threads=threads)
        except FileNotFoundError as error:
            raise InputError(str(error)) from error
    model.too_long_fix = "follow it through time with recipes/timeline.py, or raise --max_batch_seconds"
    return model


def import_onnx_interface(path):
    """Runs an exported folder's ``onnx_interface.py`` as a module of its own (named after its path, so that
    two folders never share one)."""
    name = "onnx_interface_" + hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:16]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def add_backend_options(parser):
    """``--backend``, ``--device`` and ``--threads``, which every program on an exported model takes."""
    parser.add_argument(
        "--backend",
        choices=sorted(BACKENDS),
        default="pytorch",
        help="pytorch: the folder's PyTorch model (SpeechBrain); onnx / onnx_int8: its model.onnx / model.int8.onnx "
        "with ONNX Runtime, without torch (recipes/export.py --onnx [--quantize int8]) (default: pytorch)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: cpu; the ONNX backends: cpu)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="intra-op threads of torch or ONNX Runtime (default: theirs)"
    )


def check_backend_options(parser, args):
    """Refuses, before the model is loaded, a thread count below 1 and a device the chosen backend cannot use."""
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}.")
    if args.backend != "pytorch" and args.device != "cpu":
        parser.error(f"--backend {args.backend} runs on the CPU (ONNX Runtime's CPU provider): leave out --device.")
