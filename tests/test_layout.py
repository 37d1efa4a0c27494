"""The project's layout as README's "Layout" draws it: the programs a user runs in ``recipes/``, their parts in
sub-packages by concern, no import circle anywhere, and no part importing a program.

Imports are read from the source (every ``import`` and ``from ... import``, at module level or inside a function,
and the corpus readers ``corpora.folds`` imports by name), so a circle hidden in a function-level import counts as
one too. The train scripts and ``iemocap_prepare.py`` are programs and modules at once, by SpeechBrain's design (a
recipe's ``Brain`` lives in its train script): the benchmark imports the Brains to time the very step a run trains.
"""

import ast
import os
import re

import pytest

from corpora.folds import CORPUS_MODULES
from recipes import benchmark

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("corpora", "custom_modules", "recipes", "synthetic")
ROOT_MODULES = ("iemocap_prepare", "train_stage1", "train_stage2")
RECIPES = os.path.join(REPO, "recipes")
# The programs a user runs: the files directly in recipes/.
PROGRAMS = sorted(
    f"recipes.{name[:-3]}" for name in os.listdir(RECIPES) if name.endswith(".py") and name != "__init__.py"
)


def project_modules():
    """Every module of the project (tests aside): dotted name -> file."""
    modules = {name: os.path.join(REPO, f"{name}.py") for name in ROOT_MODULES}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(REPO, package)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            relative = os.path.relpath(folder, REPO).replace(os.sep, ".")
            for name in files:
                if name.endswith(".py"):
                    dotted = relative if name == "__init__.py" else f"{relative}.{name[:-3]}"
                    modules[dotted] = os.path.join(folder, name)
    return modules


def imported_modules(path, modules):
    """The project's modules a file imports (the deepest one each import names)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


@pytest.fixture(scope="module")
def import_graph():
    modules = project_modules()
    graph = {name: imported_modules(path, modules) - {name} for name, path in modules.items()}
    # --corpus imports its reader by name (corpora.folds.corpus_module): those imports count too.
    graph["corpora.folds"] |= set(CORPUS_MODULES.values())
    return graph


def circles(graph):
    """Every strongly connected group of more than one module (Tarjan's algorithm): each holds an import circle."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_circles_finds_an_import_circle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]


def test_no_module_of_the_project_takes_part_in_an_import_circle(import_graph):
    assert circles(import_graph) == []


def test_no_part_and_no_program_imports_a_program(import_graph):
    assert PROGRAMS and "recipes.run_folds" in PROGRAMS and "recipes.benchmark" in PROGRAMS
    importers = {
        f"{module} imports {target}"
        for module, targets in import_graph.items()
        for target in targets
        if target in PROGRAMS
    }
    assert importers == set()


def test_recipes_holds_programs_and_sub_packages_only():
    for name in os.listdir(RECIPES):
        path = os.path.join(RECIPES, name)
        if name.endswith(".py") and name != "__init__.py":
            with open(path, encoding="utf-8") as handle:
                assert 'if __name__ == "__main__":' in handle.read(), f"recipes/{name} is a part, not a program"
        elif os.path.isdir(path) and name != "__pycache__":
            assert os.path.isfile(os.path.join(path, "__init__.py")), f"recipes/{name} is no package"


def test_each_benchmark_section_lives_in_its_own_module_with_measure_and_report():
    assert set(benchmark.SECTIONS) < set(benchmark.SECTION_MODULES)
    modules = list(benchmark.SECTION_MODULES.values())
    assert len(set(modules)) == len(modules)
    for module in modules:
        assert module.__name__.startswith("recipes.bench.")
        assert callable(module.measure) and callable(module.report)


def test_readme_layout_names_every_program_and_part():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    layout = readme.split("\n## Layout\n", 1)[1].split("\n```\n", 2)[1]
    modules = project_modules()
    drawn = set(re.findall(r"[\w.]+\.py\b", layout))
    missing = sorted(
        os.path.relpath(path, REPO)
        for name, path in modules.items()
        if name.startswith("recipes") and not path.endswith("__init__.py") and os.path.basename(path) not in drawn
    )
    assert missing == [], "README's Layout does not name these"
    for package in sorted({name.rpartition(".")[0] for name in modules if name.startswith("recipes.")} - {""}):
        if package != "recipes":
            assert package.split(".", 1)[1] + "/" in layout, f"README's Layout does not draw {package}"
