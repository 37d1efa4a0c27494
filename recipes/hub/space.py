"""What a Hugging Face Space needs to serve the page of an exported model (``recipes/export.py --space``):
``app.py`` (``recipes/hub/space_app.py``), ``requirements.txt`` (``requirements-space.txt``: the recipe's pinned
stack without the tests and tools, with Gradio) and ``README.md`` (the Space's front matter, from
``huggingface_hub.SpaceCardData``). They go into the export's ``space/`` folder; the Space loads the model from
its Hub repository, so ``recipes/upload.py --space_id`` pushes the model, then the Space.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os
import re
import shutil
import sys

from huggingface_hub import ModelCard, SpaceCardData

from recipes import REPO

SPACE_FOLDER = "space"
SPACE_APP = os.path.join(REPO, "recipes", "hub", "space_app.py")
# uv export --frozen --no-hashes --no-dev --group app --no-emit-project -o requirements-space.txt (README,
# "Upgrading the pinned stack"); CI checks it is the export of uv.lock.
SPACE_REQUIREMENTS = os.path.join(REPO, "requirements-space.txt")
SHORT_DESCRIPTION = "Emotion in speech: upload or record, see what it hears"


def gradio_pin(requirements_file=SPACE_REQUIREMENTS):
    """The Gradio version the requirements pin: the Space's ``sdk_version`` must be the same."""
    with open(requirements_file, encoding="utf-8") as handle:
        match = re.search(r"^gradio==([^\s;]+)", handle.read(), flags=re.MULTILINE)
    if not match:
        raise ValueError(f"{requirements_file} pins no gradio version.")
    return match.group(1)


def space_card(model_repo_id, license_id):
    """The Space's ``README.md``: its front matter and a line on what it serves.

    Example
    -------
    >>> card = space_card("someone/ser-fold1", "apache-2.0")
    >>> "sdk: gradio" in card, "- someone/ser-fold1" in card, "app_file: app.py" in card
    (True, True, True)
    """
    data = SpaceCardData(
        title=f"Try {model_repo_id.split('/')[-1]}",
        emoji="🎙️",
        colorFrom="yellow",
        colorTo="blue",
        sdk="gradio",
        sdk_version=gradio_pin(),
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        app_file="app.py",
        license=license_id,
        short_description=SHORT_DESCRIPTION,
        models=[model_repo_id],
        # The Hub fetches the model when it builds the Space, not at its first start.
        preload_from_hub=[model_repo_id],
    )
    return (
        f"---\n{data.to_yaml()}\n---\n\n"
        f"Upload or record speech and see the emotion that [{model_repo_id}](https://huggingface.co/{model_repo_id}) "
        "recognises, its other predictions and, for a longer recording, the emotion over time. The page is the "
        "one the model carries (its `custom_interface.py`); `app.py` loads it.\n"
    )


def write_space(model_folder, model_repo_id):
    """Writes ``<model_folder>/space/``: the Space of the model uploaded to ``model_repo_id``.

    Arguments
    ---------
    model_folder : str
        An exported model folder (its card gives the license).
    model_repo_id : str
        The model's Hub repository (``user/name``), which the Space loads.

    Returns
    -------
    str
        The Space's folder.
    """
    card_path = os.path.join(model_folder, "README.md")
    license_id = ModelCard.load(card_path).data.license if os.path.isfile(card_path) else None
    space = os.path.join(model_folder, SPACE_FOLDER)
    os.makedirs(space, exist_ok=True)
    shutil.copy(SPACE_APP, os.path.join(space, "app.py"))
    shutil.copy(SPACE_REQUIREMENTS, os.path.join(space, "requirements.txt"))
    with open(os.path.join(space, "README.md"), "w", encoding="utf-8") as handle:
        handle.write(space_card(model_repo_id, license_id))
    return space
