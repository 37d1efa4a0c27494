#!/usr/bin/env python3
"""Uploads an exported model folder to a Hugging Face model repository, where SpeechBrain's ``foreign_class``
loads it by its id::

    python recipes/export.py --experiment_folder results/stage2/fold1 --output_folder exported/fold1 \
        --repo_id your-name/ser-two-stage-fold1
    python recipes/upload.py --model exported/fold1 --repo_id your-name/ser-two-stage-fold1 --dry_run
    python recipes/upload.py --model exported/fold1 --repo_id your-name/ser-two-stage-fold1 [--private]

(``recipes/export.py ... --push_to_hub`` does both.) With ``--space_id`` the export's Hugging Face Space
(``recipes/export.py --space``: ``space/``, the page to try the model, loading it from ``--repo_id``) is pushed
after the model, as a Gradio Space::

    python recipes/upload.py --model exported/fold1 --repo_id your-name/ser-two-stage-fold1 \
        --space_id your-name/try-ser-two-stage-fold1

The repository is created if needed, then the folder is
uploaded in one commit through ``huggingface_hub`` (``HfApi.create_repo``, ``HfApi.upload_folder``), without the
bytecode Python leaves beside ``custom_interface.py`` when the folder was loaded locally. Authentication is
huggingface_hub's: the ``HF_TOKEN`` environment variable or the token saved by ``hf auth login``.
``--dry_run`` prints what would be uploaded and stops before any network access.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import sys

from recipes.hub.upload_plans import UploadError, describe, push, space_upload_plan, upload_plan


def main(argv=None):
    parser = argparse.ArgumentParser(description="Upload an exported model folder to the Hugging Face Hub.")
    parser.add_argument("--model", required=True, help="exported model folder (recipes/export.py)")
    parser.add_argument("--repo_id", required=True, help="model repository, user/name (created if needed)")
    parser.add_argument(
        "--space_id",
        default=None,
        help="also push the export's Space (export.py --space) to this Space repository, user/name, after the model",
    )
    parser.add_argument("--private", action="store_true", help="create the repositories as private")
    parser.add_argument("--dry_run", action="store_true", help="print what would be uploaded; no network access")
    args = parser.parse_args(argv)
    try:
        plans = [upload_plan(args.model, args.repo_id, args.private)]
        if args.space_id:
            plans.append(space_upload_plan(args.model, args.space_id, args.repo_id, args.private))
    except UploadError as error:
        print(f"upload.py: error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print("\n".join(describe(plan) for plan in plans))
        return 0
    return push(plans, "upload.py")


if __name__ == "__main__":
    sys.exit(main())
