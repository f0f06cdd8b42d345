"""``python -m sim``: the Hydra command line (see :mod:`sim.face.cli`)."""

if __name__ == "__main__":  # (batch workers, spawned, import this module as __mp_main__: they need no Hydra)
    from .face.cli import main

    main()
