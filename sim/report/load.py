"""Read result directories into one tidy results table (docs/DATA.md is the contract).

:func:`load` accepts any of the directories the producers write:

* a single run directory (``python -m sim``): ``summary.json`` + Parquet tables;
* a Hydra multirun directory (``python -m sim -m ...``): ``multirun.yaml`` and
  one run folder per job (a failed job: ``error.txt``, no ``summary.json``);
* a batch-engine experiment directory (``experiment.json``, ``design.parquet``,
  ``results.parquet``, ``aggregates.parquet``);
* merged shards: a directory holding ``shard_<i>of<K>/`` experiment directories,
  or several directories given together.

and returns a :class:`Study`: the tidy table (one row per point x replicate,
whatever produced it) plus lazy readers of the per-job tables the figures
need. Nothing is ever written into the inputs.

The tidy table's columns, in order: ``source`` (which input directory),
``job`` (the job folder relative to it, ``.`` for the directory itself),
``point``, ``replicate``, ``seed``, ``status`` (``ok`` / ``failed`` /
``incomplete``), ``error``, ``scenario``, ``label`` (the point's varied values,
used as the group in figures), ``start_year``, the varied parameters (multirun:
from each job's ``.hydra/overrides.yaml``; experiment: the factor columns),
then the outcome columns of :mod:`sim.engine.tables` (read from each
directory's ``results.parquet``, which runs, multirun jobs and experiments all
write through that module; a sweep still running is read from its chunks with
the engine's own reader and dedupe rule). A job that failed or never finished
is one row (``replicate`` null) with its status and error; an experiment's
(point, replicate) key with no row at all is listed as ``incomplete``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from ..core.metrics import PHASES
from ..engine.tables import dedupe_results, read_parts
from ..engine.batch import CHUNKS, chunk_files

#: The leading columns of the tidy table, in order.
TIDY_COLUMNS = ("source", "job", "point", "replicate", "seed", "status", "error", "scenario", "label", "start_year")
STATUSES = ("ok", "failed", "incomplete")
#: The tables of a run directory (docs/DATA.md).
RUN_TABLES = ("timeseries", "agents", "events", "pairs")
_SHARD = re.compile(r"^shard_(\d+)of(\d+)$")


class ReportError(ValueError):
    """An input the report cannot read at all (one line: the path and what is wrong)."""


def _problem(source: str, job: str, file: str, problem: str, path: Path | None = None,
             unreadable: bool = True) -> dict:
    """A problem record: where (source, job, file, full ``path``), what, and whether a file could not be read.

    ``unreadable`` is False for notes that lose nothing (a sweep still
    running, shards not all given, results read from chunks): ``sim.report``
    exits non-zero when any problem is unreadable (:meth:`Study.unreadable`).
    """
    return {"source": source, "job": job, "file": file, "problem": problem,
            "path": str(path) if path is not None else file, "unreadable": unreadable}


# --------------------------------------------------------------------------- small readers

def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


def _read_json(path: Path) -> tuple[Any, str]:
    """(data, "") or (None, why)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except FileNotFoundError:
        return None, f"{path.name} missing"
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return None, f"{path.name} unreadable: {_one_line(exc)}"


def _one_line(exc: BaseException | str, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, BaseException) and type(exc).__name__ not in text:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_override(text: str) -> tuple[str, Any] | None:
    """``key=value`` of a Hydra override: key without ``+``/``++``/``~``, value parsed as YAML; None for hydra.*."""
    key, sep, value = str(text).partition("=")
    key = key.strip().lstrip("+~")
    if not sep or not key or key.startswith("hydra."):
        return None
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    if isinstance(parsed, (dict, list)):
        parsed = value  # sweeps and lists stay text
    return key, parsed


def _natural(name: str):
    """Sort key: digits as numbers (job 10 after job 9)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def short_name(factor: str) -> str:
    """A factor's name for labels and axes: ``params.pressure.intensity`` -> ``pressure.intensity``."""
    return factor[len("params."):] if factor.startswith("params.") else factor


# --------------------------------------------------------------------------- jobs

@dataclass
class Job:
    """One run directory (a single run or a multirun job) or one experiment (shard) directory."""

    path: Path
    source: str
    name: str
    kind: str  # "run" | "experiment"
    point: int = 0
    status: str = "ok"
    error: str = ""
    overrides: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # parsed overrides
    config: dict | None = None
    config_text: str = ""
    summary: dict | None = None
    experiment: dict | None = None
    problems: list[dict] = field(default_factory=list)  # files of this job that exist but cannot be read

    @property
    def scenario(self) -> str:
        for src in (self.summary or {}, self.config or {}):
            sc = src.get("scenario")
            if isinstance(sc, dict) and sc.get("name") is not None:
                return str(sc["name"])
            if isinstance(sc, str):
                return sc
        v = self.values.get("scenario")
        return "" if v is None else str(v)

    @property
    def scenario_description(self) -> str:
        sc = (self.config or {}).get("scenario")
        return str(sc.get("description") or "") if isinstance(sc, dict) else ""

    @property
    def start_year(self) -> float:
        sc = (self.config or {}).get("scenario")
        if isinstance(sc, dict) and isinstance(sc.get("start_year"), (int, float)):
            return float(sc["start_year"])
        return math.nan


def _hydra(job: Job) -> None:
    h = job.path / ".hydra"
    ov_path = h / "overrides.yaml"
    ov = _read_yaml(ov_path)
    if ov is None and ov_path.is_file() and ov_path.stat().st_size:
        job.problems.append(_problem(job.source, job.name, ".hydra/overrides.yaml", "unreadable YAML", ov_path))
    job.overrides = [str(o) for o in ov] if isinstance(ov, list) else []
    job.values = dict(p for p in map(parse_override, job.overrides) if p is not None)
    cfg_path = h / "config.yaml"
    try:
        job.config_text = cfg_path.read_text(encoding="utf-8")
        cfg = yaml.safe_load(job.config_text)
        job.config = cfg if isinstance(cfg, dict) else None
    except FileNotFoundError:
        job.config = None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        job.config, job.config_text = None, ""
        job.problems.append(_problem(job.source, job.name, ".hydra/config.yaml", f"unreadable: {_one_line(exc)}",
                                     cfg_path))


def _job_num(path: Path) -> float:
    hy = _read_yaml(path / ".hydra" / "hydra.yaml")
    try:
        return float(hy["hydra"]["job"]["num"])
    except (TypeError, KeyError, ValueError):
        return math.inf


def _run_job(path: Path, source: str, name: str, point: int) -> Job:
    job = Job(path=path, source=source, name=name, kind="run", point=point)
    _hydra(job)
    summary, why = _read_json(path / "summary.json")
    if isinstance(summary, dict) and isinstance(summary.get("replicates"), list):
        job.summary = summary
        return job
    if why and "missing" not in why:
        job.problems.append(_problem(source, name, "summary.json", why.removeprefix("summary.json "),
                                     path / "summary.json"))
    err_file = path / "error.txt"
    if err_file.exists():
        job.status = "failed"
        try:
            text = " ".join(err_file.read_text(encoding="utf-8", errors="replace").split())
            job.error = text[:2000] or "error.txt is empty"
        except OSError as exc:
            job.error = f"error.txt unreadable: {_one_line(exc)}"
    elif summary is not None:
        job.status, job.error = "failed", "summary.json has no replicates list"
    elif "missing" in why:
        job.status, job.error = "incomplete", "no summary.json and no error.txt (job still running or killed)"
    else:
        job.status, job.error = "failed", why
    return job


def _subdirs(path: Path) -> list[Path]:
    """Sub-directories that may hold results: not hidden (temporary), not a report (``report.html``) of ours."""
    return [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "report"
            and not (p / "report.html").exists()]


def _is_run_dir(p: Path) -> bool:
    return any((p / f).exists() for f in ("summary.json", "error.txt", "timeseries.parquet", ".hydra"))


def _is_experiment_dir(p: Path) -> bool:
    """experiment.json, or a results table without a run's tables (a run directory writes results.parquet too)."""
    return (p / "experiment.json").exists() or (
        (p / "results.parquet").exists() and not any((p / f).exists() for f in ("summary.json", "timeseries.parquet")))


def detect(path: Path) -> str:
    """``run`` | ``multirun`` | ``experiment`` | ``shards`` for a directory; ReportError otherwise."""
    if not path.is_dir():
        raise ReportError(f"{path}: not a directory")
    if _is_experiment_dir(path):
        return "experiment"
    subs = _subdirs(path)
    if any(_SHARD.match(p.name) for p in subs):
        return "shards"
    if (path / "multirun.yaml").exists() or (
            not (path / "summary.json").exists() and any(_is_run_dir(p) for p in subs)):
        return "multirun"
    if _is_run_dir(path):
        return "run"
    raise ReportError(f"{path}: not a run, multirun or experiment directory "
                      "(no summary.json, multirun.yaml, experiment.json or shard_<i>of<K>/ inside)")


# --------------------------------------------------------------------------- the study

@dataclass
class Study:
    """Everything read from the inputs: the tidy table, the jobs, and lazy readers of their tables."""

    roots: list[Path]
    kind: str  # run | multirun | experiment | shards | mixed
    jobs: list[Job]
    table: pa.Table
    factors: list[str]  # varied-parameter columns of the table, in design order
    problems: list[dict] = field(default_factory=list)  # unreadable/missing files: source, job, file, problem
    experiment: dict | None = None
    design: pd.DataFrame | None = None  # experiment: point + factor columns, in point order
    aggregate_parts: list[tuple[str, Path]] = field(default_factory=list)  # (source, aggregates.parquet)
    notes: list[str] = field(default_factory=list)

    # ---- the tidy table
    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def frame(self, columns=None) -> pd.DataFrame:
        """The tidy table (or only ``columns`` that exist) as a DataFrame."""
        if columns is None:
            return self.table.to_pandas()
        cols = [c for c in dict.fromkeys(columns) if c in self.table.column_names]
        return self.table.select(cols).to_pandas()

    def matching(self, prefix: str) -> list[str]:
        return [c for c in self.table.column_names if c.startswith(prefix)]

    @cached_property
    def numeric_factors(self) -> list[str]:
        return [f for f in self.factors if pa.types.is_integer(self.table.schema.field(f).type)
                or pa.types.is_floating(self.table.schema.field(f).type)]

    @cached_property
    def labels(self) -> pd.DataFrame:
        """One row per (source, point): label, scenario, start_year, in point order."""
        df = self.frame(["source", "point", "label", "scenario", "start_year"])
        return df.drop_duplicates(["source", "point"]).reset_index(drop=True)

    # ---- the run jobs' own tables
    def run_jobs(self) -> list[Job]:
        return [j for j in self.jobs if j.kind == "run" and j.status == "ok"]

    def _problem(self, job: Job, file: str, problem: str) -> None:
        """Record a file problem once per (source, job, file): the first description wins."""
        if not any((p["source"], p["job"], p["file"]) == (job.source, job.name, file) for p in self.problems):
            self.problems.append(_problem(job.source, job.name, file, problem, job.path / file))

    def unreadable(self) -> list[dict]:
        """The problems of files that exist (or should) but could not be read, each with its full ``path``."""
        return [p for p in self.problems if p.get("unreadable", True)]

    def check_tables(self, names=RUN_TABLES) -> list[dict]:
        """Check every run job's tables (present, Parquet footer readable); record problems.

        A finished job must have each table; a failed or unfinished one is
        only checked for the tables it has.
        """
        finished = {id(j) for j in self.run_jobs()}
        for job in [j for j in self.jobs if j.kind == "run"]:
            for name in names:
                f = job.path / f"{name}.parquet"
                if not f.exists():
                    if id(job) in finished:
                        self._problem(job, f.name, "missing")
                    continue
                try:
                    pq.read_metadata(f)
                except Exception as exc:  # noqa: BLE001
                    self._problem(job, f.name, f"unreadable: {_one_line(exc)}")
        return self.problems

    def read_job_table(self, name: str, columns: list[str] | None = None, required: tuple[str, ...] = (),
                       filters=None) -> pd.DataFrame | None:
        """``name``.parquet of every finished run job (only ``columns`` that exist), with source/point/label.

        Jobs whose file is missing or unreadable are recorded in :attr:`problems`
        and skipped. None when no job has the table.
        """
        parts = []
        for job in self.run_jobs():
            f = job.path / f"{name}.parquet"
            if not f.exists():
                self._problem(job, f.name, "missing")
                continue
            try:
                schema = pq.read_schema(f)
                cols = None if columns is None else [c for c in dict.fromkeys(columns) if c in schema.names]
                missing = [c for c in required if c not in schema.names]
                if missing:
                    self._problem(job, f.name, f"lacks column(s) {', '.join(missing)}")
                    continue
                df = pq.read_table(f, columns=cols, filters=filters).to_pandas()
            except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, never fatal
                self._problem(job, f.name, f"unreadable: {_one_line(exc)}")
                continue
            df.insert(0, "source", job.source)
            df.insert(1, "point", job.point)
            parts.append(df)
        if not parts:
            return None
        out = pd.concat(parts, ignore_index=True)
        lab = self.labels[["source", "point", "label"]]
        return out.merge(lab, on=["source", "point"], how="left")

    def aggregates(self, metrics: list[str], labels: list[str] | None = None) -> pd.DataFrame | None:
        """The experiments' ``aggregates.parquet`` rows for ``metrics`` (and the points of ``labels``), with label.

        Reads only the needed columns and rows (batch by batch), so a large sweep
        costs what is drawn. A point whose replicates were split over shards has
        one partial aggregate per shard: those points are taken from
        :func:`sim.engine.batch.merge` (exact quantiles over all its replicates: the
        engine's one aggregate rule), or, if the shards' chunks are not there, left
        out with a note (never approximated).
        """
        parts = []
        lab = self.labels if labels is None else self.labels[self.labels["label"].isin(list(labels))]
        cols = ("point", "step", "year", "metric", "mean", "q10", "q50", "q90", "n")
        for source, f in self.aggregate_parts:
            points = None if labels is None else [int(p) for p in lab.loc[lab["source"] == source, "point"]]
            try:
                t = _read_filtered(f, cols, list(metrics), points)
            except Exception as exc:  # noqa: BLE001
                self.problems.append(_problem(source, f.parent.name, f.name, f"unreadable: {_one_line(exc)}", f))
                continue
            df = t.to_pandas()
            df.insert(0, "source", source)
            parts.append(df)
        if not parts:
            return None
        out = pd.concat(parts, ignore_index=True)
        key = ["source", "point", "step", "metric"]
        dup = out.duplicated(key, keep=False)
        if dup.any():
            split = out.loc[dup, ["source", "point"]].drop_duplicates()
            exact = self._merged_aggregates(split, metrics)
            if exact is not None:
                out = pd.concat([out[~dup], exact], ignore_index=True)
            else:
                self.notes.append(f"aggregates of {len(split)} point(s) split across shards are left out: their "
                                  "exact quantiles need the shards' chunks/ (python -m sim.engine.batch merge)")
                out = out[~dup]
        return out.merge(lab[["source", "point", "label"]], on=["source", "point"], how="inner")

    def _merged_aggregates(self, split: pd.DataFrame, metrics) -> pd.DataFrame | None:
        """Exact aggregates of the (source, point)s in ``split`` by :func:`sim.engine.batch.merge`; None on failure."""
        frames = []
        for source, pts in split.groupby("source")["point"]:
            dirs = sorted({f.parent for s, f in self.aggregate_parts if s == source})
            try:
                from ..engine.batch import merge

                agg = merge(dirs)["aggregates"]
            except Exception:  # noqa: BLE001 - fall back to averaging
                return None
            agg = agg[agg["point"].isin(pts.astype(int)) & agg["metric"].isin(list(metrics))].copy()
            if set(agg["point"].astype(int)) != set(pts.astype(int)):
                return None  # the shards' chunks do not cover these points (e.g. copied without chunks/)
            agg.insert(0, "source", source)
            frames.append(agg)
        return pd.concat(frames, ignore_index=True) if frames else None

    # ---- where the world and the text come from
    @cached_property
    def world(self):
        """The World of the runs, rebuilt from the first resolved config that holds one; None if none does.

        The figures then fall back to what the tables say (codes in order, equal sizes): a world is
        never guessed.
        """
        from ..core.world import WorldError, build_world

        for job in self.jobs:
            spec = (job.config or {}).get("world")
            if isinstance(spec, dict) and spec:
                try:
                    return build_world(spec, source=f"{job.name}/.hydra/config.yaml")
                except (WorldError, TypeError, ValueError) as exc:
                    self.notes.append(f"{job.name}/.hydra/config.yaml: its world cannot be rebuilt ({_one_line(exc)})")
        return None

    def world_for(self, codes) -> Any:
        """The world when it knows every one of ``codes``; else None (callers fall back to equal sizes)."""
        w = self.world
        if w is not None and set(codes) <= set(w.codes):
            return w
        return None

    @cached_property
    def span_years(self) -> float | None:
        """The longest run length in years, from the configs (``steps`` / steps_per_year, else end - start year)."""
        spans = []
        for job in self.jobs:
            cfg = job.config or {}
            sc = cfg.get("scenario") if isinstance(cfg.get("scenario"), dict) else {}
            try:
                spy = float(sc.get("steps_per_year") or 1)
                steps = cfg.get("steps")
                if isinstance(steps, (int, float)) and not isinstance(steps, bool):
                    spans.append(float(steps) / spy)
                elif isinstance(sc.get("end_year"), (int, float)) and isinstance(sc.get("start_year"), (int, float)):
                    spans.append(float(sc["end_year"]) - float(sc["start_year"]))
            except (TypeError, ValueError):
                continue
        return max(spans) if spans else None

    @cached_property
    def question(self) -> str:
        if self.experiment and self.experiment.get("description"):
            return str(self.experiment["description"])
        seen = {}
        for job in self.jobs:
            if job.scenario and job.scenario not in seen:
                seen[job.scenario] = job.scenario_description
        return "\n".join(f"{k}: {v}" if v else k for k, v in seen.items())

    @cached_property
    def commands(self) -> list[str]:
        out = []
        if self.experiment and self.experiment.get("command"):
            out.append(str(self.experiment["command"]))
        for root in self.roots:
            mr = _read_yaml(root / "multirun.yaml")
            try:
                task = mr["hydra"]["overrides"]["task"]
                out.append("python -m sim -m " + " ".join(str(t) for t in task))
            except (TypeError, KeyError):
                pass
        if not out:
            for job in self.jobs:
                cmd = (job.summary or {}).get("command") or (job.experiment or {}).get("command")
                if not cmd and job.path.joinpath(".hydra").exists():
                    cmd = "python -m sim " + " ".join(job.overrides)
                if cmd and cmd not in out:
                    out.append(str(cmd))
                if len(out) >= 20:
                    break
        return out

    @cached_property
    def config_text(self) -> str:
        for status in ("ok", "failed", "incomplete"):
            for job in self.jobs:
                if job.status == status and job.config_text:
                    return job.config_text
        return ""


def _read_filtered(path: Path, columns, metrics: list[str], points: list[int] | None,
                   batch_rows: int = 262_144) -> pa.Table:
    """Rows of a long (point, step, metric, ...) table for ``metrics`` and ``points``, read batch by batch.

    Only ``columns`` that exist are read, and only the matching rows of each
    batch are kept, so memory stays bounded by one batch plus the result.
    """
    pf = pq.ParquetFile(path)
    cols = [c for c in columns if c in pf.schema_arrow.names]
    mset = pa.array(metrics, pa.string())
    pset = None if points is None else pa.array(points, pa.int64())
    kept = []
    for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
        mask = pc.is_in(batch.column(cols.index("metric")).cast(pa.string()), value_set=mset)
        if pset is not None:
            mask = pc.and_(mask, pc.is_in(batch.column(cols.index("point")).cast(pa.int64()), value_set=pset))
        kept.append(pa.Table.from_batches([batch.filter(mask)]))
    if not kept:
        return pa.table({c: pa.array([], pf.schema_arrow.field(c).type) for c in cols})
    return pa.concat_tables(kept)


# --------------------------------------------------------------------------- building the table

def _results_rows(job: Job) -> list[dict] | str:
    """The rows of a finished run's ``results.parquet`` (sim.engine.tables), or why they cannot be read."""
    f = job.path / "results.parquet"
    if not f.exists():
        return "no results.parquet (written by a sim older than this reader; rerun the job)"
    try:
        return pq.read_table(f).to_pylist()
    except Exception as exc:  # noqa: BLE001 - a damaged table is a failed row, named
        job.problems.append(_problem(job.source, job.name, "results.parquet", f"unreadable: {_one_line(exc)}", f))
        return f"results.parquet unreadable: {_one_line(exc)}"


def _run_table(jobs: list[Job], factors: list[str]) -> pd.DataFrame:
    rows = []
    for job in jobs:
        base = {"source": job.source, "job": job.name, "scenario": job.scenario, "start_year": job.start_year}
        base.update({f: job.values.get(f) for f in factors})
        got = _results_rows(job) if job.status == "ok" else job.error
        if isinstance(got, str):
            status = job.status if job.status != "ok" else "failed"
            seed = (job.summary or {}).get("seed", (job.config or {}).get("seed"))
            rows.append({**base, "point": job.point, "replicate": None, "seed": seed, "status": status,
                         "error": got})
            continue
        rows.extend({**row, **base, "point": job.point, "error": row["error"] or ""} for row in got)
    df = pd.DataFrame(rows)
    for f in factors:
        vals = df[f].dropna()
        if len(vals) and not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in vals):
            df[f] = df[f].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        else:
            df[f] = pd.to_numeric(df[f])
    return df


def _start_years_from_timeseries(df: pd.DataFrame, jobs: list[Job]) -> None:
    for job in jobs:
        if job.status != "ok" or not math.isnan(job.start_year):
            continue
        try:
            years = pq.read_table(job.path / "timeseries.parquet", columns=["year"]).column("year")
            y0 = pc.min(years).as_py()
        except Exception:  # noqa: BLE001 - the problem is reported when the figures read it
            continue
        if y0 is not None:
            df.loc[(df["source"] == job.source) & (df["job"] == job.name), "start_year"] = float(y0)


def _load_runs(root: Path, source: str, multirun: bool) -> tuple[list[Job], pd.DataFrame, list[str]]:
    if multirun:
        subs = [p for p in _subdirs(root) if _is_run_dir(p) and not _is_experiment_dir(p)]
        subs.sort(key=lambda p: (_job_num(p), _natural(p.name)))
        jobs = [_run_job(p, source, p.name, i) for i, p in enumerate(subs)]
    else:
        jobs = [_run_job(root, source, ".", 0)]
    keys = list(dict.fromkeys(k for j in jobs for k in j.values))
    factors = [k for k in keys if k not in TIDY_COLUMNS]
    df = _run_table(jobs, factors)
    _start_years_from_timeseries(df, jobs)
    return jobs, df, factors


def _experiment_part(root: Path, source: str, name: str) -> tuple[Job, pa.Table | None, pd.DataFrame | None,
                                                                  list[dict]]:
    """One experiment (or shard) directory: its job record, results table, design and problems."""
    job = Job(path=root, source=source, name=name, kind="experiment")
    _hydra(job)
    problems = []
    exp, why = _read_json(root / "experiment.json")
    if isinstance(exp, dict):
        job.experiment = exp
    else:
        problems.append(_problem(source, name, "experiment.json", why, root / "experiment.json"))
    design = None
    if (root / "design.parquet").exists():
        try:
            design = pq.read_table(root / "design.parquet").to_pandas()
        except Exception as exc:  # noqa: BLE001
            problems.append(_problem(source, name, "design.parquet", f"unreadable: {_one_line(exc)}",
                                     root / "design.parquet"))
    table = None
    f = root / "results.parquet"
    if f.exists():
        try:
            table = pq.read_table(f)
        except Exception as exc:  # noqa: BLE001
            problems.append(_problem(source, name, "results.parquet", f"unreadable: {_one_line(exc)}", f))
    if table is None and (root / CHUNKS).is_dir():
        read = []

        def readable(c: Path) -> pa.Table | None:
            try:
                t = pq.read_table(c)
            except Exception:  # noqa: BLE001 - a chunk being written or damaged
                return None
            read.append(c)
            return t

        raw = read_parts([c for c, _, _ in chunk_files(root / CHUNKS)], readable)
        if raw is not None:  # the engine's reader and dedupe rule, as its merge uses them
            table = dedupe_results(raw)
            problems.append(_problem(source, name, "results.parquet",
                                     f"missing: read {len(read)} chunk(s) from chunks/ instead "
                                     "(sweep running or killed)", f, unreadable=False))
    if table is None:
        job.status = "failed"
        job.error = "no readable results.parquet"
        if not any(p["file"] == "results.parquet" for p in problems):
            problems.append(_problem(source, name, "results.parquet", "missing", f))
    return job, table, design, problems


def _fill_column(table: pa.Table, name: str, value, typ=None) -> pa.Table:
    arr = pa.array(np.full(len(table), value) if typ is None else [value] * len(table), type=typ)
    if name in table.column_names:
        col = table.column(name)
        filled = pc.fill_null(col.cast(arr.type) if col.type != arr.type else col, arr)
        return table.set_column(table.column_names.index(name), name, filled)
    return table.append_column(name, arr)


@dataclass
class _Part:
    """What one input (a run, a multirun, an experiment or its shards) contributes to the study."""

    jobs: list[Job]
    table: pa.Table
    factors: list[str]
    problems: list[dict] = field(default_factory=list)
    experiment: dict | None = None
    design: pd.DataFrame | None = None
    aggregates: list[tuple[str, Path]] = field(default_factory=list)


def _load_experiment(roots: list[tuple[Path, str]], source: str) -> _Part:
    """One experiment from a directory or its shards (merged)."""
    jobs, tables, designs, problems = [], [], [], []
    aggs = []
    for path, name in roots:
        job, t, d, pr = _experiment_part(path, source, name)
        jobs.append(job)
        problems += pr
        if t is not None:
            t = t.append_column("job", pa.array([name] * len(t), pa.string())) if "job" not in t.column_names else t
            tables.append(t)
        if d is not None:
            designs.append(d)
        if (path / "aggregates.parquet").exists():
            aggs.append((source, path / "aggregates.parquet"))
    exp = next((j.experiment for j in jobs if j.experiment), None)
    design = None
    if designs:
        design = pd.concat(designs, ignore_index=True)
        if "point" in design.columns:
            design = design.drop_duplicates("point").sort_values("point").reset_index(drop=True)
    if tables:
        table = pa.concat_tables(tables, promote_options="permissive")
        if {"point", "replicate", "status"} <= set(table.column_names):
            table = dedupe_results(table)
    else:
        table = pa.table({"point": pa.array([], pa.int64()), "replicate": pa.array([], pa.int64()),
                          "status": pa.array([], pa.string()), "job": pa.array([], pa.string())})
    # factors: design columns, else experiment.json's design.factors
    factors = [c for c in (design.columns if design is not None else []) if c != "point"]
    if not factors and exp and isinstance(exp.get("design"), dict):
        factors = [str(k) for k in (exp["design"].get("factors") or {})]
    # keys that should exist but have no row: incomplete
    if exp and design is not None and "point" in design.columns and isinstance(exp.get("replicates"), int):
        num_shards = int(exp.get("num_shards") or 1)
        shard_ids = {_SHARD.match(n).group(1) for _, n in roots if _SHARD.match(n)}
        if num_shards == 1 or len(shard_ids) == num_shards:
            have = (table.select(["point", "replicate"]).to_pandas() if len(table)
                    else pd.DataFrame(columns=["point", "replicate"]))
            want = pd.MultiIndex.from_product([design["point"].astype("int64"), range(exp["replicates"])],
                                              names=["point", "replicate"])
            got = (pd.MultiIndex.from_frame(have.astype("int64")) if len(have)
                   else pd.MultiIndex.from_tuples([], names=["point", "replicate"]))
            missing = want.difference(got)
            if len(missing):
                m = missing.to_frame(index=False)
                extra = {"point": m["point"].to_numpy(), "replicate": m["replicate"].to_numpy(),
                         "status": ["incomplete"] * len(m),
                         "error": ["no result row (sweep not finished, killed, or a shard missing)"] * len(m),
                         "job": ["."] * len(m)}
                des = design.set_index("point")
                for f in factors:
                    if f in des.columns:
                        extra[f] = des.loc[m["point"].to_numpy(), f].to_numpy()
                t2 = pa.table(extra)
                table = pa.concat_tables([table, t2], promote_options="permissive")
        elif num_shards > 1:
            problems.append(_problem(source, ".", "shard_*",
                                     f"{len(shard_ids)} of {num_shards} shards present: missing keys not counted",
                                     unreadable=False))
    # factor columns from the design where the results lack them
    if design is not None and "point" in design.columns and len(table):
        idx = pc.index_in(table.column("point").cast(pa.int64()), value_set=pa.array(design["point"].astype("int64")))
        for f in factors:
            if f not in table.column_names and f in design.columns:
                table = table.append_column(f, pa.array(design[f].to_numpy()).take(idx))
    # scenario and start year from the config
    cfg = next((j.config for j in jobs if j.config), {}) or {}
    sc = cfg.get("scenario") if isinstance(cfg.get("scenario"), dict) else {}
    if "scenario" not in table.column_names:
        name = sc.get("name", (exp or {}).get("scenario", ""))
        table = table.append_column("scenario", pa.array([str(name)] * len(table), pa.string()))
    for job in jobs:  # what the engine says about itself
        st = (job.experiment or {}).get("status")
        if st and st != "complete":
            problems.append(_problem(source, job.name, "experiment.json",
                                     f"status {st!r} (the sweep had not finished when this was read)",
                                     job.path / "experiment.json", unreadable=False))
    start = sc.get("start_year")
    if not isinstance(start, (int, float)) and aggs:
        try:
            start = pc.min(pq.read_table(aggs[0][1], columns=["year"]).column("year")).as_py()
        except Exception:  # noqa: BLE001
            start = None
    table = _fill_column(table, "start_year", float(start) if isinstance(start, (int, float)) else math.nan)
    return _Part(jobs, table, factors, problems, exp, design, aggs)


def _finish(table: pa.Table, factors: list[str], source_name: str | None = None) -> pa.Table:
    """Fill the leading columns' defaults and order the columns (keys, factors, the rest)."""
    n = len(table)
    if "source" not in table.column_names and source_name is not None:
        table = table.append_column("source", pa.array([source_name] * n, pa.string()))
    for col, typ in (("job", pa.string()), ("error", pa.string()), ("status", pa.string()), ("scenario", pa.string())):
        if col not in table.column_names:
            table = table.append_column(col, pa.array([""] * n if col != "status" else ["ok"] * n, typ))
        else:
            table = _fill_column(table, col, "", pa.string())
    for col in ("point", "replicate", "seed"):
        if col not in table.column_names:
            table = table.append_column(col, pa.nulls(n, pa.int64()))
        elif not pa.types.is_integer(table.column(col).type):
            try:
                table = table.set_column(table.column_names.index(col), col, table.column(col).cast(pa.int64()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
    first = [c for c in TIDY_COLUMNS if c in table.column_names]
    fac = [f for f in factors if f in table.column_names and f not in first]
    rest = [c for c in table.column_names if c not in first and c not in fac]
    return table.select(first + fac + rest)


def _labels(table: pa.Table, factors: list[str]) -> tuple[pa.Table, list[str]]:
    """Add ``label``: the point's varied values (``scenario`` first), else the scenario.

    Prefixed by the source when two sources share a label; ``#point`` added when two points do.
    """
    cols = ["source", "point", "scenario"] + factors
    pts = table.select([c for c in cols if c in table.column_names]).to_pandas().drop_duplicates(["source", "point"])
    varied = [f for f in factors if pts[f].nunique(dropna=False) > 1]
    scen_varies = pts["scenario"].nunique() > 1

    def make(row) -> str:
        parts = ([str(row["scenario"])] if scen_varies else []) + [
            f"{short_name(f)}={_fmt(row[f])}" for f in varied if f != "scenario"]
        return ", ".join(parts) if parts else (str(row["scenario"]) or "all")

    pts["label"] = [make(r) for _, r in pts.iterrows()] if len(pts) else []
    if pts["source"].nunique() > 1:
        amb = pts.groupby("label")["source"].transform("nunique") > 1
        pts.loc[amb, "label"] = pts.loc[amb, "source"] + ": " + pts.loc[amb, "label"]
    # labels must be unique per (source, point): add the point id when two points share one
    dup = pts.duplicated("label", keep=False)
    if dup.any():
        pts.loc[dup, "label"] = pts.loc[dup, "label"] + " #" + pts.loc[dup, "point"].astype(str)
    key_t = table.select(["source", "point"]).to_pandas()
    lab = key_t.merge(pts[["source", "point", "label"]], on=["source", "point"], how="left")["label"]
    arr = pa.array(lab.fillna("").astype(str).to_numpy(), pa.string())
    if "label" in table.column_names:
        table = table.drop_columns(["label"])
    return table.append_column("label", arr), [f for f in varied if f != "scenario"]


def _source_names(paths: list[Path]) -> list[str]:
    names = [p.name or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return names


def load(paths) -> Study:
    """Read one or several result directories (see the module docstring) into a :class:`Study`."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p).resolve() for p in paths]
    for p in paths:
        if not p.exists():
            raise ReportError(f"{p}: no such directory")
    kinds = [detect(p) for p in paths]
    names = _source_names(paths)
    # several experiment (shard) directories of one experiment: merge them as shards
    if len(paths) > 1 and all(k == "experiment" for k in kinds):
        exps = [_read_json(p / "experiment.json")[0] or {} for p in paths]
        if len({e.get("name") for e in exps}) == 1 and any(int(e.get("num_shards") or 1) > 1 for e in exps):
            part = _load_experiment([(p, p.name) for p in paths], str(exps[0].get("name") or names[0]))
            return _assemble(paths, "shards", [part])
    parts = []
    for p, kind, name in zip(paths, kinds, names):
        if kind in ("run", "multirun"):
            exp_jobs = sorted((d for d in _subdirs(p) if _is_experiment_dir(d)),
                              key=lambda d: _natural(d.name)) if kind == "multirun" else []
            for d in exp_jobs:  # a multirun over experiments (python -m sim -m experiment=a,b)
                parts.append(_load_experiment([(d, ".")], f"{name}/{d.name}"))
            if not exp_jobs or any(_is_run_dir(d) and not _is_experiment_dir(d) for d in _subdirs(p)):
                jobs, df, factors = _load_runs(p, name, kind == "multirun")
                if jobs or not exp_jobs:
                    parts.append(_Part(jobs, pa.Table.from_pandas(df, preserve_index=False), factors))
        elif kind == "experiment":
            parts.append(_load_experiment([(p, ".")], name))
        else:  # shards
            shard_dirs = sorted((d for d in _subdirs(p) if _SHARD.match(d.name)), key=lambda d: _natural(d.name))
            if _is_experiment_dir(p):  # already merged at the top: read that
                parts.append(_load_experiment([(p, ".")], name))
            else:
                parts.append(_load_experiment([(d, d.name) for d in shard_dirs], name))
    kind = kinds[0] if len(set(kinds)) == 1 else "mixed"
    return _assemble(paths, kind, parts)


def _assemble(paths, kind, parts) -> Study:
    jobs, tables, factors, problems, aggs = [], [], [], [], []
    exp = design = None
    while parts:  # consume the parts so each intermediate table is freed as soon as it is finished
        part = parts.pop(0)
        j, t, f, pr, e, d, a = (part.jobs, part.table, part.factors, part.problems, part.experiment, part.design,
                                part.aggregates)
        del part
        jobs += j
        tables.append(_finish(t, f, j[0].source if j else ""))
        factors += [x for x in f if x not in factors]
        problems += pr + [p for job in j for p in job.problems]
        aggs += a
        exp = exp or e
        design = design if design is not None else d
    n_parts = len(tables)
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    del tables
    table, varied = _labels(table, factors)
    # keep every factor of an experiment (the sensitivity analysis needs them); a multirun keeps the varied overrides
    keep = factors if exp else [f for f in factors if f in varied]
    drop = [f for f in factors if f not in keep and f in table.column_names]
    table = table.drop_columns(drop)
    table = _finish(table, keep)
    if n_parts > 1:
        exp, design = None, None  # a sensitivity design is only meaningful for a single experiment
    return Study(roots=list(paths), kind=kind, jobs=jobs, table=table, factors=keep, problems=problems,
                 experiment=exp, design=design, aggregate_parts=aggs)


__all__ = ["TIDY_COLUMNS", "PHASES", "STATUSES", "Job", "ReportError", "Study", "detect", "load", "parse_override",
           "short_name"]
