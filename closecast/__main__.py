from closecast.cli import main

raise SystemExit(main())
