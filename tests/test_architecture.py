"""The dependency direction of STYLE.md, enforced by import-linter from the first commit."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.django_db
def test_no_model_changes_without_migrations():
    from django.core.management import call_command

    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    except SystemExit as exc:  # makemigrations --check exits 1 when a migration is missing
        raise AssertionError("a model change has no migration; run `kehu makemigrations`") from exc


def test_ruff_is_clean():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "src", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_private_module_is_protected_by_a_contract():
    """Nothing imports another app's private (underscore) modules: each one has a
    `protected` contract in pyproject.toml allowing only its own app."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    protected = {(module, tuple(contract["allowed_importers"]))
                 for contract in config["tool"]["importlinter"]["contracts"]
                 if contract["type"] == "protected"
                 for module in contract["protected_modules"]}
    src = ROOT / "src"
    private = sorted(".".join(path.relative_to(src).with_suffix("").parts)
                     for path in src.rglob("_*.py") if not path.name.startswith("__"))
    assert private, "expected at least kehu.customers.services._common"
    for module in private:
        app = ".".join(module.split(".")[:2])
        assert (module, (app,)) in protected, f"{module} needs a protected contract for {app}"
