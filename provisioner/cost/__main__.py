from provisioner.cost.cli import main

raise SystemExit(main())
