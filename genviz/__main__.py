from genviz.cli import main

raise SystemExit(main())
