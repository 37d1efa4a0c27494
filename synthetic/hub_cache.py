"""A local Hugging Face folder put into a Hugging Face hub cache exactly as a download would have left it.

Tests use it to run the recipe on a hub id (``user/tiny``) offline, through the real cache lookups of
huggingface_hub, transformers and SpeechBrain, without the hub. huggingface_hub has no public function that writes
a file into the cache without downloading it, so this follows its layout (``hf_hub_download``'s docstring and
``_create_symlink`` in ``huggingface_hub/file_download.py``) with its own naming helpers::

    <cache>/models--<user>--<name>/
        blobs/<git blob sha1 of a regular file | sha256 of an LFS file>
        snapshots/<commit>/<path>  ->  relative symlink ../../blobs/<hash>
        refs/main                  the commit hash, no trailing newline

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import fnmatch
import hashlib
import io
import os
from pathlib import Path

from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils.sha import git_hash, sha_fileobj

# Files the Hub stores with LFS (named by their sha256): the patterns of the .gitattributes it writes into a new
# model repository that concern model folders, and any binary or large file.
LFS_PATTERNS = ("*.bin", "*.ckpt", "*.pt", "*.pth", "*.safetensors", "*.h5", "*.msgpack", "*.onnx")
LFS_SIZE = 10 * 1024 * 1024


def write_hub_cache(folder, repo_id, cache_dir):
    """Puts every file of ``folder`` into ``cache_dir`` as revision ``main`` of the model repository ``repo_id``.

    Arguments
    ---------
    folder : str
        A local Hugging Face folder (``config.json``, weights, ...).
    repo_id : str
        ``<user>/<name>``.
    cache_dir : str
        A Hugging Face hub cache (``$HF_HOME/hub``).

    Returns
    -------
    str
        The snapshot folder.

    Example
    -------
    >>> import tempfile
    >>> from huggingface_hub import try_to_load_from_cache
    >>> from synthetic.backbones import build_backbone
    >>> tmp = tempfile.mkdtemp()
    >>> _ = write_hub_cache(build_backbone(tmp + "/tiny"), "user/tiny", tmp + "/hub")
    >>> cached = try_to_load_from_cache("user/tiny", "config.json", cache_dir=tmp + "/hub")
    >>> os.path.islink(cached), open(cached).read() == open(tmp + "/tiny/config.json").read()
    (True, True)
    """
    files = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())
    commit = hashlib.sha1(b"".join(f.encode() + git_hash((Path(folder) / f).read_bytes()).encode() for f in files))
    storage = Path(cache_dir) / repo_folder_name(repo_id=repo_id, repo_type="model")
    snapshot = storage / "snapshots" / commit.hexdigest()
    for relative in files:
        data = (Path(folder) / relative).read_bytes()
        blob = storage / "blobs" / _blob_name(relative, data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists():
            blob.write_bytes(data)
        pointer = snapshot / relative
        pointer.parent.mkdir(parents=True, exist_ok=True)
        if pointer.is_symlink() or pointer.exists():
            pointer.unlink()
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    (storage / "refs" / "main").write_text(commit.hexdigest())  # no newline: huggingface_hub reads it verbatim
    return str(snapshot)


def _blob_name(relative, data):
    name = relative.rsplit("/", 1)[-1]
    lfs = any(fnmatch.fnmatch(name, pattern) for pattern in LFS_PATTERNS) or len(data) >= LFS_SIZE
    if lfs or b"\x00" in data[:8000]:
        return sha_fileobj(io.BytesIO(data)).hex()
    return git_hash(data)
