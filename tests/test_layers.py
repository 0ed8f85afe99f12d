"""Imports only go down (docs/architecture.md): each module imports its own floor or lower."""

import ast
from pathlib import Path

import digitlab

PACKAGE = Path(digitlab.__file__).parent

#: floor of each top-level module or package of digitlab, from the ground (0) up
FLOORS = {
    "errors": 0, "fileio": 0, "formatting": 0, "data": 0, "plots": 0, "metrics": 0,
    "images": 0, "records": 0, "outputs": 0, "runlock": 0, "shapes": 0, "runfiles": 0,
    "choices": 0, "checks": 0, "options": 0, "i18n": 0, "mahalanobis": 0,
    "similarity": 0,
    "config": 1, "nn": 1, "models": 1, "history": 1, "modelio": 1, "preprocessing": 1,
    "ensembles": 1, "calibration": 1, "model_summary": 1,
    "training": 2, "evaluation": 2, "dreaming": 2, "onnx_export": 2, "loading": 2,
    "robustness": 2, "runs": 2, "tracking": 2, "analysis": 3, "studies": 3, "finetuning": 3,
    "reporting": 4, "api": 5, "serve": 5, "sklearn": 5, "cli": 6, "__main__": 6,
}


def imported_units(path: Path) -> set[str]:
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "digitlab" and len(parts) > 1:
                units.add(parts[1])
    return units


def test_no_module_imports_from_a_floor_above_its_own():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        unit = relative.parts[0].removesuffix(".py")
        if unit == "__init__":
            continue
        assert unit in FLOORS, f"{relative}: add its floor to FLOORS and docs/architecture.md"
        for other in imported_units(path) - {unit}:
            if FLOORS.get(other, 0) > FLOORS[unit]:
                upward.append(f"{relative} imports digitlab.{other}")
    assert not upward, upward
