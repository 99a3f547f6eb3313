"""Packaging metadata that setuptools accepts without deprecation warnings."""

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_license_is_an_spdx_expression_and_setuptools_understands_it():
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    # A TOML table ({text = …}) is deprecated by setuptools; the SPDX string needs >= 77.
    assert data["project"]["license"] == "LicenseRef-Proprietary"
    requires = " ".join(data["build-system"]["requires"])
    minimum = re.search(r"setuptools>=(\d+)", requires)
    assert minimum and int(minimum.group(1)) >= 77
