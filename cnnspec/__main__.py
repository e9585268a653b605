"""``python -m cnnspec`` (also what ``torchrun -m cnnspec`` runs)."""

from cnnspec.cli import main

raise SystemExit(main())
