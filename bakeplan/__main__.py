from __future__ import annotations

from bakeplan.cli import main

main()
