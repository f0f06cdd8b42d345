"""``python -m sim``: the Hydra command line (see :mod:`sim.face.cli`)."""

from .face.cli import main

if __name__ == "__main__":
    main()
