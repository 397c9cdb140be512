"""``python -m ometiff``."""

from ometiff._cli import main

raise SystemExit(main())
