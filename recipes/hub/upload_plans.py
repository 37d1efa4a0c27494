"""Uploads to the Hugging Face Hub: an exported model folder as a model repository, its ``space/`` as a Gradio
Space, each planned and checked before any network access (``upload_plan``, ``space_upload_plan``), then pushed in
one commit through ``huggingface_hub`` (``push``). ``recipes/upload.py`` and ``recipes/export.py --push_to_hub``
use it.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os
import sys

from huggingface_hub import HfApi, SpaceCard
from huggingface_hub.utils import filter_repo_objects

from recipes.hub.model_card import REPO_PLACEHOLDER
from recipes.hub.model_folder import EXPORT_MARKERS, HUB_ID
from recipes.hub.space import SPACE_FOLDER

# A local load writes custom_interface's bytecode into the folder; never upload it.
IGNORE_PATTERNS = ["__pycache__/*", "*/__pycache__/*", "*.pyc"]
COMMIT_MESSAGE = "Upload speech emotion recognition model (two-stage adapters recipe)"
SPACE_COMMIT_MESSAGE = "Upload the page to try a speech emotion recognition model (two-stage adapters recipe)"


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
    # The Space beside the model is a repository of its own (space_upload_plan).
    return folder_plan(folder, repo_id, "model", private, IGNORE_PATTERNS + [f"{SPACE_FOLDER}/*"], COMMIT_MESSAGE)


def space_upload_plan(model_folder, space_id, model_repo_id, private=False):
    """What ``upload`` would do to push the Space of an export (``recipes/export.py --space``) as ``space_id``,
    checked before any network access: the Space must load the model from ``model_repo_id``.

    Returns
    -------
    dict
        ``upload_plan``'s, with ``repo_type`` ``space`` and ``space_sdk`` ``gradio``.
    """
    if not HUB_ID.match(space_id):
        raise UploadError(f"--space_id {space_id} is not a Hugging Face repository id (user/name).")
    folder = os.path.join(model_folder, SPACE_FOLDER)
    card = os.path.join(folder, "README.md")
    if not os.path.isfile(card):
        raise UploadError(
            f"{model_folder} has no Space ({SPACE_FOLDER}/README.md): export again with --space --repo_id "
            f"{model_repo_id}."
        )
    models = SpaceCard.load(card).data.models or []
    if models != [model_repo_id]:
        raise UploadError(
            f"the Space in {folder} loads the model {', '.join(models) or 'from nowhere'}, not {model_repo_id}: "
            f"export again with --space --repo_id {model_repo_id}."
        )
    plan = folder_plan(folder, space_id, "space", private, IGNORE_PATTERNS, SPACE_COMMIT_MESSAGE)
    return {**plan, "space_sdk": "gradio"}


def folder_plan(folder, repo_id, repo_type, private, ignore_patterns, commit_message):
    """The upload of every file of ``folder`` but the ignored ones to one repository, in one commit."""
    every_file = sorted(
        os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
        for root, _, names in os.walk(folder)
        for name in names
    )
    files = list(filter_repo_objects(every_file, ignore_patterns=ignore_patterns))
    return {
        "repo_id": repo_id,
        "repo_type": repo_type,
        "private": private,
        "folder": folder,
        "files": files,
        "bytes": sum(os.path.getsize(os.path.join(folder, name)) for name in files),
        "ignore_patterns": ignore_patterns,
        "commit_message": commit_message,
        "space_sdk": None,
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
    api.create_repo(
        repo_id=plan["repo_id"],
        repo_type=plan["repo_type"],
        private=plan["private"],
        space_sdk=plan["space_sdk"],
        exist_ok=True,
    )
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
    kind = f"{plan['space_sdk']} {plan['repo_type']}" if plan["space_sdk"] else plan["repo_type"]
    lines = [
        f"Would create (if it does not exist) the {visibility} {kind} repository {plan['repo_id']} and upload "
        f"{len(plan['files'])} files ({plan['bytes'] / 1e6:.1f} MB) from {plan['folder']} in one commit "
        f"({plan['commit_message']!r}):",
        *(f"  {name}  ({os.path.getsize(os.path.join(plan['folder'], name)):,} bytes)" for name in plan["files"]),
    ]
    if plan["repo_type"] == "space":
        lines.append(f"Then: https://huggingface.co/spaces/{plan['repo_id']}")
    else:
        lines.append(
            f'Then: foreign_class(source="{plan["repo_id"]}", pymodule_file="custom_interface.py", '
            'classname="EmotionRecognizer")'
        )
    return "\n".join(lines)


def push(plans, program):
    """Carries out the plans in turn (the model, then its Space); returns the exit status.

    An upload that fails (network, authentication, offline mode: ``OSError`` from huggingface_hub) is reported in
    one line and stops the rest: a Space never goes up without its model.
    """
    for plan in plans:
        try:
            url = upload(plan)
        except OSError as error:
            print(f"{program}: error: the upload to {plan['repo_id']} failed: {error}", file=sys.stderr)
            return 1
        print(f"Uploaded {len(plan['files'])} files to {url}")
    return 0
