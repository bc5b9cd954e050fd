"""``make local``: the whole service on this machine. ``python -m localmode --help``."""

from localmode.app import main

raise SystemExit(main())
