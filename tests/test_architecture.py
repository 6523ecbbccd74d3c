"""The floors of docs/architecture.rst: no import of sklatent points up.

Each module is on a floor; a module imports modules of its own floor or of
lower ones, never of a floor above, and the imports between modules form no
circle. A new module must be given a floor here and on the architecture page.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklatent"

FLOORS = {
    # the numbers are the floors of docs/architecture.rst
    # 0: leaves (helpers and data sources that know no estimator)
    "_version": 0,
    "_files": 0,
    "_progress": 0,
    "_sklearn_compat": 0,
    "_extras": 0,
    "_vision": 0,
    # 1: the kernels (torch only)
    "_kernels": 1,
    # 2: backend, the shared options, the data cache, the text corpus
    "_backend": 2,
    "_options": 2,
    "_cache": 2,
    "_text": 2,
    # 3: validation outside an estimator; 4: dask
    "_validation": 3,
    "_dask": 4,
    # 5: pure functions and the estimators' parts
    "anchors": 5,
    "metrics": 5,
    "nn": 5,
    "_base": 5,
    "_pair_statistics": 5,
    "_translation_solve": 5,
    # 6: the estimators (and the digits zoo, on nn)
    "_relative": 6,
    "_translation": 6,
    "_encoder": 6,
    "_zoo": 6,
    "_speech": 6,
    "_graph": 6,
    "_zeroshot": 6,
    # 7: built on the estimators
    "matching": 7,
    "stitching": 7,
    "diagnostics": 7,
    "datasets": 7,
    "migration": 7,
    # 8: the package's face; 9: the command line; 10: ``python -m sklatent``
    "__init__": 8,
    "_cli": 9,
    "__main__": 10,
}


def _unit(module):
    """``sklatent.a.b`` -> ``a`` (the unit that has a floor)."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _unit_of(path):
    return _unit(".".join(("sklatent", *path.relative_to(PACKAGE).parts))[:-3])


def _imports(path):
    """The sklatent modules ``path`` imports (absolute names)."""
    parts = ("sklatent", *path.relative_to(PACKAGE).with_suffix("").parts)
    package = parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            if node.module:
                found.add(".".join((*base, node.module)))
            else:
                found.update(".".join((*base, alias.name)) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "sklatent"
        ):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sklatent"))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_floor():
    units = {_unit_of(path) for path in SOURCES}
    assert units <= set(FLOORS), f"modules without a floor: {units - set(FLOORS)}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_never_point_up(path):
    here = _unit_of(path)
    for target in _imports(path):
        unit = _unit(target)
        assert FLOORS[unit] <= FLOORS[here], (
            f"{path.relative_to(PACKAGE)} (floor {FLOORS[here]}) imports {target} "
            f"(floor {FLOORS[unit]}): imports must not point up"
        )


def test_no_circle_between_modules():
    graph = {}
    for path in SOURCES:
        here = _unit_of(path)
        graph.setdefault(here, set()).update(
            unit for unit in map(_unit, _imports(path)) if unit != here
        )
    done, active = set(), []

    def visit(unit):
        if unit in active:
            circle = [*active[active.index(unit) :], unit]
            raise AssertionError(f"imports form a circle: {' -> '.join(circle)}")
        if unit not in done:
            active.append(unit)
            for target in sorted(graph.get(unit, ())):
                visit(target)
            active.pop()
            done.add(unit)

    for unit in sorted(graph):
        visit(unit)
