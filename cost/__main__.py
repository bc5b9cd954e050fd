from cost.cli import main

raise SystemExit(main())
