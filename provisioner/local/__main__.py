"""``make local``: the whole service on this machine. ``python -m provisioner.local --help``."""

from provisioner.local.app import main

raise SystemExit(main())
