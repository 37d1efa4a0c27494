"""The inference code of an exported model, as the one file SpeechBrain fetches: ``custom_interface.py``.

SpeechBrain loads a model from the Hugging Face hub or a folder by fetching ``custom_interface.py``,
``hyperparams.yaml`` and the pretrainer's checkpoint files, nothing else, and it reads ``hyperparams.yaml``
before any checkpoint. So the inference modules of ``custom_modules`` (``INFERENCE_MODULES``, an explicit list:
what ``EmotionRecognizer`` and the classes named in ``hyperparams.yaml`` import) travel inside
``custom_interface.py`` as sources. Executing the file (``foreign_class`` does) serves them, through a
meta-path finder, as the package ``ser_model_<hash>``, where the hash is the SHA-256 of the sources:

- nothing is looked up on ``sys.path``, so neither the training package nor any other package named
  ``custom_modules`` (or a previous model's ``custom_interface``) is used or disturbed;
- two exports of the same code share one package; exports of different code never collide in one process;
- ``hyperparams.yaml`` names classes of that package (``!new:ser_model_<hash>.encoder.SSLEncoder``).

An export with ONNX files (``recipes/export.py --onnx``) also holds ``onnx_interface.py``, written the same way
(``ENTRY_POINTS``) from ``ONNX_MODULES`` only: the ONNX Runtime backend, which imports neither torch nor SpeechBrain.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import ast
import hashlib
import json
import os

import custom_modules

PACKAGE = "custom_modules"
PACKAGE_DIR = os.path.dirname(os.path.abspath(custom_modules.__file__))
BUNDLE_PREFIX = "ser_model_"
# What inference imports: the interface, the model classes hyperparams.yaml builds, and their own imports.
INFERENCE_MODULES = (
    "interface",
    "encoder",
    "adapters",
    "heads",
    "ctc_units",
    "feature_cache",
    "constants",
    "errors",
    "streaming",
    # What the page to try a model needs (recipes/app.py, the Space of export.py --space): it runs from the model
    # folder alone. Gradio is imported only when a page is built, so loading a model never needs it.
    "timeline_plot",
    "gradio_page",
)
ENTRY_MODULE = "interface"
# The ONNX backend (onnx_interface.py of an export with ONNX files): its module and what it imports of the package,
# which must not reach torch (the bundle carries this list only, so an import outside it fails at export).
ONNX_MODULES = ("onnx_interface", "streaming")
ONNX_ENTRY_MODULE = "onnx_interface"
# What each entry point file exports, and how it is used.
ENTRY_POINTS = {
    "custom_interface.py": {
        "modules": INFERENCE_MODULES,
        "entry": ENTRY_MODULE,
        "names": ("EmotionRecognizer", "AudioInputError"),
        "usage": """SpeechBrain entry point of an exported speech emotion recognition model (written by
recipes/export.py of the two-stage adapters recipe; do not edit).

    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source="<hub id or folder>", pymodule_file="custom_interface.py",
                          classname="EmotionRecognizer")

hyperparams.yaml names classes of the package below (and is code too).""",
    },
    "onnx_interface.py": {
        "modules": ONNX_MODULES,
        "entry": ONNX_ENTRY_MODULE,
        "names": ("OnnxEmotionRecognizer", "AudioInputError"),
        "usage": """ONNX Runtime entry point of an exported speech emotion recognition model, without torch (written by
recipes/export.py --onnx of the two-stage adapters recipe; do not edit). Needs onnxruntime, numpy, soundfile, scipy.

    import importlib.util
    spec = importlib.util.spec_from_file_location("onnx_interface", "<folder>/onnx_interface.py")
    onnx_interface = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(onnx_interface)
    model = onnx_interface.OnnxEmotionRecognizer("<folder>")   # precision="int8": model.int8.onnx""",
    },
}


class BundleError(ValueError):
    """The inference modules import something the bundle would not carry."""


TEMPLATE = '''"""{usage}

This one file holds all the model's inference code. Executing it serves that code as the package {package!r}
(named after the SHA-256 of the code, so that different versions never share a name) through a meta-path
finder. This file is code: load models only from sources you trust.
"""

import importlib
import importlib.abc
import importlib.util
import sys

PACKAGE = {package!r}
# module name within PACKAGE ("" is the package itself) -> source
SOURCES = {sources}


class _BundleFinder(importlib.abc.MetaPathFinder, importlib.abc.InspectLoader):
    """Serves PACKAGE and its modules from SOURCES; answers for no other name."""

    def __init__(self, package, sources, origin):
        self.package, self.sources, self.origin = package, sources, origin

    def _relative(self, fullname):
        if fullname == self.package:
            return ""
        if fullname.startswith(self.package + "."):
            return fullname[len(self.package) + 1 :]
        return None

    def find_spec(self, fullname, path=None, target=None):
        relative = self._relative(fullname)
        if relative is None or relative not in self.sources:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=relative == "")

    def is_package(self, fullname):
        return self._relative(fullname) == ""

    def get_source(self, fullname):
        return self.sources[self._relative(fullname)]

    def get_filename(self, fullname):
        return f"{{self.origin}}/{{self._relative(fullname) or '__init__'}}.py"

    def get_code(self, fullname):
        # A file-like name lets tracebacks show the bundled source (linecache asks get_source).
        return compile(self.get_source(fullname), self.get_filename(fullname), "exec", dont_inherit=True)


if not any(getattr(finder, "package", None) == PACKAGE for finder in sys.meta_path):
    sys.meta_path.insert(0, _BundleFinder(PACKAGE, SOURCES, f"{{__file__}}:{{PACKAGE}}"))

_interface = importlib.import_module(PACKAGE + ".{entry}")
{exports}
'''


def collect_sources(package_dir=PACKAGE_DIR, modules=INFERENCE_MODULES):
    """The sources of ``modules`` with their imports of the package made relative.

    Every ``custom_modules`` module they import must be in ``modules``: the bundle carries that list and nothing
    else, and an import outside it would fail only where the training package is absent.

    Arguments
    ---------
    package_dir : str
        The ``custom_modules`` folder.
    modules : sequence of str
        Module names within it.

    Returns
    -------
    dict
        Module name -> source (``""``: an empty package ``__init__``).

    Example
    -------
    >>> sources = collect_sources()
    >>> sorted(sources) == sorted(["", *INFERENCE_MODULES])
    True
    >>> "from custom_modules" in sources["interface"], "from .constants import" in sources["interface"]
    (False, True)
    """
    sources = {"": ""}
    for name in modules:
        path = os.path.join(package_dir, f"{name}.py")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        lines = text.splitlines(keepends=True)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == PACKAGE for alias in node.names):
                raise BundleError(
                    f"{path}:{node.lineno}: write 'from {PACKAGE}.x import y' (the bundle rewrites those)."
                )
            if not isinstance(node, ast.ImportFrom) or node.level or node.module.split(".")[0] != PACKAGE:
                continue
            module = node.module[len(PACKAGE) + 1 :]
            if module not in modules:
                raise BundleError(
                    f"{path}:{node.lineno} imports {node.module}, which exported models do not carry: add it to "
                    "INFERENCE_MODULES (recipes/hub/inference_bundle.py) if inference needs it."
                )
            old = f"from {node.module} import"
            for number in range(node.lineno - 1, node.end_lineno):
                if old in lines[number]:
                    lines[number] = lines[number].replace(old, f"from .{module} import", 1)
                    break
            else:
                raise BundleError(f"{path}:{node.lineno}: cannot rewrite this import of {node.module}.")
        sources[name] = "".join(lines)
    return dict(sorted(sources.items()))


def bundle_package_name(sources):
    """``ser_model_`` and the first 16 hex digits of the SHA-256 of the sources.

    Example
    -------
    >>> bundle_package_name({"": "", "a": "x = 1"}) == bundle_package_name({"a": "x = 1", "": ""})
    True
    >>> bundle_package_name({"a": "x = 1"}) != bundle_package_name({"a": "x = 2"})
    True
    """
    digest = hashlib.sha256(json.dumps(sources, sort_keys=True).encode("utf-8")).hexdigest()
    return BUNDLE_PREFIX + digest[:16]


def write_custom_interface(path, sources=None):
    """Writes ``custom_interface.py`` carrying ``sources`` (default: ``collect_sources()``).

    Arguments
    ---------
    path : str
        The file to write.
    sources : dict, optional

    Returns
    -------
    str
        The package name that ``hyperparams.yaml`` must use.
    """
    return write_entry_point(path, "custom_interface.py", sources)


def write_entry_point(path, kind, sources=None):
    """Writes one of the ``ENTRY_POINTS`` files, carrying its modules' sources.

    Arguments
    ---------
    path : str
        The file to write.
    kind : str
        ``custom_interface.py`` or ``onnx_interface.py``.
    sources : dict, optional
        Default: ``collect_sources`` of the entry point's modules.

    Returns
    -------
    str
        The package name its code is served as.
    """
    entry_point = ENTRY_POINTS[kind]
    sources = collect_sources(modules=entry_point["modules"]) if sources is None else sources
    package = bundle_package_name(sources)
    body = "".join(f"    {name!r}: {text!r},\n" for name, text in sources.items())
    exports = "\n".join(f"{name} = _interface.{name}" for name in entry_point["names"])
    text = TEMPLATE.format(
        usage=entry_point["usage"],
        package=package,
        sources="{\n" + body + "}",
        entry=entry_point["entry"],
        exports=exports,
    )
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return package
