"""Fails unless the running environment holds exactly the pinned stack of a uv-exported requirements file.

A fresh ``pip install -r requirements.txt`` resolves every dependency again: a package the lock forgot would
be installed anyway, at whatever version PyPI serves that day, and the tests would pass on a stack nobody
pinned. This check turns that into an error, as it does a version that differs from its pin.

    python .ci/check_environment.py requirements.txt
"""

import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# What `python -m venv` brings itself; they install, they are not part of the recipe's stack.
VENV_TOOLS = {"pip", "setuptools", "wheel"}


def locked_versions(path):
    """Package -> pinned version, for the requirements that apply to this interpreter and platform."""
    pins = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            text = line.split(" #")[0].strip()
            if not text or text.startswith(("#", "-")):
                continue
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            specifiers = list(requirement.specifier)
            if len(specifiers) != 1 or specifiers[0].operator != "==":
                sys.exit(f"{path}: {text!r} is not pinned to one exact version.")
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def main(lock_path, project_file="pyproject.toml"):
    with open(project_file, "rb") as handle:
        project = canonicalize_name(tomllib.load(handle)["project"]["name"])
    pins = locked_versions(lock_path)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    problems = [
        f"{name}: {version} installed, {pins[name]} pinned"
        for name, version in sorted(installed.items())
        if name in pins and version != pins[name]
    ]
    problems += [f"{name} {pins[name]}: pinned but not installed" for name in sorted(set(pins) - set(installed))]
    problems += [
        f"{name} {version}: installed but not in {lock_path} (a dependency the lock forgot)"
        for name, version in sorted(installed.items())
        if name not in pins and name not in VENV_TOOLS and name != project
    ]
    if problems:
        sys.exit(f"The environment is not the pinned stack of {lock_path}:\n  " + "\n  ".join(problems))
    print(f"The environment holds exactly the {len(pins)} packages pinned in {lock_path}.")


if __name__ == "__main__":
    main(*sys.argv[1:])
