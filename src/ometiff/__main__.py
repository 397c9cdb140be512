"""``python -m ometiff``."""

from ometiff.cli.main import main

raise SystemExit(main())
