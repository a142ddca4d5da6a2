from netevd.cli import main

raise SystemExit(main())
