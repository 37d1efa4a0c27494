"""A folder put into a Hugging Face hub cache exactly as ``hf_hub_download`` leaves a downloaded repository, so
that loading from a hub id (a backbone ``user/tiny``, an exported model) is tested offline against the real cache
layout, through the real cache lookups of huggingface_hub, transformers and SpeechBrain.

Layout (huggingface_hub's ``file_download``: the ``hf_hub_download`` docstring and ``_create_symlink``)::

    <cache_dir>/models--<user>--<repo>/
        blobs/<git blob sha1 of a regular file | sha256 of an LFS file>
        snapshots/<commit>/<path>  ->  relative symlink ../../blobs/<hash> (one more ../ per subfolder)
        refs/main                  the commit hash, no trailing newline (read verbatim)

huggingface_hub has no public function that writes a file into the cache without downloading it, so this
follows its conventions with its own helpers for the names (``repo_folder_name``, ``utils.sha.git_hash`` and
``sha_fileobj``), and ``check_hub_cache`` asks huggingface_hub's own readers (``scan_cache_dir``,
``hf_hub_download(local_files_only=True)``, ``try_to_load_from_cache``) whether they accept it. Which files the
Hub stores with LFS is decided by the server: the patterns of the repository's ``.gitattributes`` (the default
one of a new model repository, ``DEFAULT_LFS_PATTERNS``, includes ``*.ckpt``) and binary or large files; an LFS
file's blob is named by its sha256, any other by its git blob sha1.

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

# The LFS patterns of the .gitattributes the Hub writes into a new model repository.
DEFAULT_LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*", "*.mlmodel",
    "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt",
    "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm",
    "*.xz", "*.zip", "*.zst", "*tfevents*",
)  # fmt: skip
LFS_SIZE = 10 * 1024 * 1024


def is_lfs(relative_path, data):
    """Whether the Hub stores this file with LFS (matching pattern, large, or binary)."""
    name = relative_path.rsplit("/", 1)[-1]
    matches = any(fnmatch.fnmatch(relative_path, p) or fnmatch.fnmatch(name, p) for p in DEFAULT_LFS_PATTERNS)
    return matches or len(data) >= LFS_SIZE or b"\x00" in data[:8000]


def blob_name(relative_path, data):
    """The blob's file name in the cache: sha256 of an LFS file, git blob sha1 of any other."""
    if is_lfs(relative_path, data):
        return sha_fileobj(io.BytesIO(data)).hex()
    return git_hash(data)


def folder_files(folder):
    """Relative POSIX paths of the files of an exported folder (what an upload sends: no bytecode), sorted."""
    folder = Path(folder)
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and ".git" not in path.parts
    )


def fake_commit(folder, files):
    """A deterministic 40-hex commit id for the folder's content (stands in for the Hub's commit)."""
    digest = hashlib.sha1()
    for relative in files:
        digest.update(relative.encode() + b"\0" + git_hash((Path(folder) / relative).read_bytes()).encode() + b"\n")
    return digest.hexdigest()


def write_hub_cache(folder, repo_id, cache_dir, files=None):
    """Puts ``files`` (default: every file) of ``folder`` into ``cache_dir`` as revision ``main`` of the model
    repository ``repo_id``, as downloads would have; returns the snapshot folder.

    The commit id covers the whole folder, so caching some files and later others gives one snapshot, as
    successive downloads of one revision do.

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
    every_file = folder_files(folder)
    files = every_file if files is None else list(files)
    commit = fake_commit(folder, every_file)
    storage = Path(cache_dir) / repo_folder_name(repo_id=repo_id, repo_type="model")
    snapshot = storage / "snapshots" / commit
    for relative in files:
        data = (Path(folder) / relative).read_bytes()
        blob = storage / "blobs" / blob_name(relative, data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists():
            blob.write_bytes(data)
        pointer = snapshot / relative
        pointer.parent.mkdir(parents=True, exist_ok=True)
        if pointer.is_symlink() or pointer.exists():
            pointer.unlink()
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    (storage / "refs" / "main").write_text(commit)  # no newline: hf_hub_download reads it verbatim
    return snapshot


def check_hub_cache(cache_dir, repo_id, files):
    """What huggingface_hub's own readers say about the cache (offline): scan warnings, refs, cached files, and
    the paths ``hf_hub_download(local_files_only=True)`` and ``try_to_load_from_cache`` give for ``files``."""
    from huggingface_hub import hf_hub_download, scan_cache_dir, try_to_load_from_cache

    info = scan_cache_dir(cache_dir)
    repos = {repo.repo_id: repo for repo in info.repos}
    (revision,) = repos[repo_id].revisions
    return {
        "scan_warnings": [str(warning) for warning in info.warnings],
        "repos": sorted(repos),
        "refs": sorted(revision.refs),
        "cached_files": sorted(
            f.file_path.relative_to(revision.snapshot_path).as_posix()
            for f in revision.files
            if "__pycache__" not in f.file_path.parts
        ),
        "hf_hub_download": {f: hf_hub_download(repo_id, f, cache_dir=cache_dir, local_files_only=True) for f in files},
        "try_to_load_from_cache": {f: try_to_load_from_cache(repo_id, f, cache_dir=cache_dir) for f in files},
        "snapshot": str(revision.snapshot_path),
    }
