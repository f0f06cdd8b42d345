"""``python -m sim``: the Hydra command line (see :mod:`sim.cli`)."""

from .cli import main

if __name__ == "__main__":
    main()
