"""Import every `board_*.py` module of this package so each registers its board on start-up."""

from __future__ import annotations

import importlib
import pkgutil

import kehu.dashboards as package

for module in pkgutil.iter_modules(package.__path__):
    if module.name.startswith("board_") and module.name != "board_modules":
        importlib.import_module(f"{package.__name__}.{module.name}")
