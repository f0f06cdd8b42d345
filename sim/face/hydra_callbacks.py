"""Hydra callbacks of ``python -m sim -m`` (registered in conf/config.yaml under ``hydra.callbacks``).

:class:`SweepFolders` does two things for a multirun:

* **Sweep folders named by what was swept.** Hydra names each job's folder
  ``hydra.sweep.subdir: ${hydra.job.override_dirname}``: every override of
  the command line, swept or not (``figures=False,params.pressure.intensity=0.8,
  progress=False,replicates=3,scenario=us_retrenchment``). Before the sweep
  starts, the overrides that are *not* sweeps (a single value, such as
  ``replicates=30``) are added to ``hydra.job.config.override_dirname.exclude_keys``,
  so a folder is named by the swept values only
  (``params.pressure.intensity=0.8,scenario=us_retrenchment`` when both were
  swept; ``scenario=us_retrenchment`` when only the scenario was). That is the
  hydra override ``hydra.job.config.override_dirname.exclude_keys=[...]``,
  appended to the multirun's hydra overrides, from which Hydra composes every
  job (and which ``multirun.yaml`` records); an explicit ``exclude_keys`` given
  by the user is kept as it is. The report's group labels (the varied values
  of :mod:`sim.report.load`) name the same values.
* **A report at the end.** After the last job, when ``report`` is true (the
  default), the sweep's report is written to ``<sweep dir>/report/``
  (:func:`sim.report.write_default_report`), and its path printed.
"""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

EXCLUDE_KEY = "hydra.job.config.override_dirname.exclude_keys"


def fixed_override_keys(task_overrides) -> list[str] | None:
    """Keys of the overrides that are not sweeps; None when nothing is swept (then nothing is excluded).

    A sweep is what Hydra's override parser calls one: ``a=1,2``, ``glob(*)``,
    ``range(0,4)``, ``choice(...)``, ``interval(...)``.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides([str(o) for o in task_overrides])
    if not any(o.is_sweep_override() for o in parsed):
        return None
    return sorted({o.key_or_group for o in parsed if not o.is_sweep_override()})


class SweepFolders(Callback):
    """Name multirun job folders by the swept values; write the sweep's report at the end (see the module)."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        """Exclude the non-swept overrides from ``override_dirname`` of every job of this sweep."""
        hydra_overrides = [str(o) for o in config.hydra.overrides.hydra]
        if any(o.lstrip("+~").startswith(EXCLUDE_KEY) for o in hydra_overrides):
            return
        fixed = fixed_override_keys(config.hydra.overrides.task)
        if not fixed:
            return
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.hydra.append(f"{EXCLUDE_KEY}=[{','.join(fixed)}]")

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """The sweep's report (``report=false`` turns it off)."""
        if not OmegaConf.select(config, "report", default=True):
            return
        sweep = Path(str(config.hydra.sweep.dir))
        if not sweep.is_dir():
            return
        from ..report import write_default_report

        write_default_report([sweep])


__all__ = ["EXCLUDE_KEY", "SweepFolders", "fixed_override_keys"]
