"""``make bench``: run every benchmark module in this package that defines ``main()``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    selected = set(sys.argv[1:])
    for module_info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if not module_info.name.endswith("_bench") or (selected and module_info.name not in selected):
            continue
        module = importlib.import_module(f"benchmarks.{module_info.name}")
        print(f"== {module_info.name}", flush=True)
        module.main()
    return 0


raise SystemExit(main())
