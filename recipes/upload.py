#!/usr/bin/env python3
"""Uploads an exported model folder to a Hugging Face model repository, where SpeechBrain's ``foreign_class``
loads it by its id::

    python recipes/export.py --experiment_folder results/stage2/fold1 --output_folder exported/fold1 \
        --repo_id your-name/ser-two-stage-fold1
    python recipes/upload.py --model exported/fold1 --repo_id your-name/ser-two-stage-fold1 --dry_run
    python recipes/upload.py --model exported/fold1 --repo_id your-name/ser-two-stage-fold1 [--private]

(``recipes/export.py ... --push_to_hub`` does both.) The repository is created if needed, then the folder is
uploaded in one commit through ``huggingface_hub`` (``HfApi.create_repo``, ``HfApi.upload_folder``), without the
bytecode Python leaves beside ``custom_interface.py`` when the folder was loaded locally. Authentication is
huggingface_hub's: the ``HF_TOKEN`` environment variable or the token saved by ``hf auth login``.
``--dry_run`` prints what would be uploaded and stops before any network access.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import os
import sys

from huggingface_hub import HfApi
from huggingface_hub.utils import filter_repo_objects

from recipes.export import EXPORT_MARKERS, HUB_ID
from recipes.model_card import REPO_PLACEHOLDER

# A local load writes custom_interface's bytecode into the folder; never upload it.
IGNORE_PATTERNS = ["__pycache__/*", "*/__pycache__/*", "*.pyc"]
COMMIT_MESSAGE = "Upload speech emotion recognition model (two-stage adapters recipe)"


class UploadError(Exception):
    """The folder or repository id cannot be uploaded as asked; the message says why."""


def upload_plan(folder, repo_id, private=False):
    """What ``upload`` would do, checked before any network access.

    Arguments
    ---------
    folder : str
        An exported model folder (``recipes/export.py``).
    repo_id : str
        ``user/name`` of the model repository.
    private : bool
        Create the repository as private (an existing one keeps its visibility).

    Returns
    -------
    dict
        ``repo_id``, ``repo_type``, ``private``, ``folder``, ``files`` (relative paths, sorted), ``bytes``,
        ``ignore_patterns`` and ``commit_message``.
    """
    if not HUB_ID.match(repo_id):
        raise UploadError(f"--repo_id {repo_id} is not a Hugging Face repository id (user/name).")
    missing = [name for name in EXPORT_MARKERS if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise UploadError(f"{folder} is not an exported model folder (no {', '.join(missing)}); see recipes/export.py.")
    card = os.path.join(folder, "README.md")
    if os.path.isfile(card):
        with open(card, encoding="utf-8") as handle:
            text = handle.read()
        if f'source="{repo_id}"' not in text:
            shown = "a placeholder" if REPO_PLACEHOLDER in text else "another repository"
            raise UploadError(
                f"the model card in {folder} loads the model from {shown}, not {repo_id}: export again with "
                f"--repo_id {repo_id} (or --push_to_hub)."
            )
    every_file = sorted(
        os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
        for root, _, names in os.walk(folder)
        for name in names
    )
    files = list(filter_repo_objects(every_file, ignore_patterns=IGNORE_PATTERNS))
    return {
        "repo_id": repo_id,
        "repo_type": "model",
        "private": private,
        "folder": folder,
        "files": files,
        "bytes": sum(os.path.getsize(os.path.join(folder, name)) for name in files),
        "ignore_patterns": IGNORE_PATTERNS,
        "commit_message": COMMIT_MESSAGE,
    }


def upload(plan, api=None):
    """Creates the repository if needed and uploads the folder in one commit; returns the commit's URL.

    Arguments
    ---------
    plan : dict
        From ``upload_plan``.
    api : huggingface_hub.HfApi, optional

    Returns
    -------
    str
    """
    api = api or HfApi()
    api.create_repo(repo_id=plan["repo_id"], repo_type=plan["repo_type"], private=plan["private"], exist_ok=True)
    commit = api.upload_folder(
        repo_id=plan["repo_id"],
        repo_type=plan["repo_type"],
        folder_path=plan["folder"],
        ignore_patterns=plan["ignore_patterns"],
        commit_message=plan["commit_message"],
    )
    return commit.commit_url


def describe(plan):
    """The plan as the dry run prints it."""
    visibility = "private" if plan["private"] else "public"
    lines = [
        f"Would create (if it does not exist) the {visibility} model repository {plan['repo_id']} and upload "
        f"{len(plan['files'])} files ({plan['bytes'] / 1e6:.1f} MB) from {plan['folder']} in one commit "
        f"({plan['commit_message']!r}):",
        *(f"  {name}  ({os.path.getsize(os.path.join(plan['folder'], name)):,} bytes)" for name in plan["files"]),
        f'Then: foreign_class(source="{plan["repo_id"]}", pymodule_file="custom_interface.py", '
        'classname="EmotionRecognizer")',
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Upload an exported model folder to the Hugging Face Hub.")
    parser.add_argument("--model", required=True, help="exported model folder (recipes/export.py)")
    parser.add_argument("--repo_id", required=True, help="model repository, user/name (created if needed)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--dry_run", action="store_true", help="print what would be uploaded; no network access")
    args = parser.parse_args(argv)
    try:
        plan = upload_plan(args.model, args.repo_id, args.private)
    except UploadError as error:
        print(f"upload.py: error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(describe(plan))
        return 0
    try:
        url = upload(plan)
    except OSError as error:  # huggingface_hub's HTTP, authentication and offline-mode errors are OSErrors
        print(f"upload.py: error: the upload to {args.repo_id} failed: {error}", file=sys.stderr)
        return 1
    print(f"Uploaded {len(plan['files'])} files to {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
