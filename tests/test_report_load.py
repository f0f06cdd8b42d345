"""Reading result directories into the tidy table: every kind, every broken job listed, never dropped."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest
import report_fixtures as F

from sim.report.load import TIDY_COLUMNS, ReportError, detect, load, parse_override


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_load")
    return {
        "run": F.write_run_dir(root / "run", broken="agents"),
        "killed": F.write_run_dir(root / "killed", broken="summary", replicates=2, steps=2),
        "multi": F.write_multirun_dir(root / "multi"),
        "exp": F.write_experiment_dir(root / "exp"),
        "shards": F.write_sharded(root / "shards"),
    }


def test_detect_kinds(dirs, tmp_path):
    assert detect(dirs["run"]) == "run"
    assert detect(dirs["multi"]) == "multirun"
    assert detect(dirs["exp"]) == "experiment"
    assert detect(dirs["shards"]) == "shards"
    with pytest.raises(ReportError, match="not a run, multirun or experiment"):
        detect(tmp_path)
    with pytest.raises(ReportError, match="no such directory"):
        load(tmp_path / "missing")


def test_parse_override():
    assert parse_override("params.pressure.intensity=0.2") == ("params.pressure.intensity", 0.2)
    assert parse_override("+experiment=grid") == ("experiment", "grid")
    assert parse_override("++seed=3") == ("seed", 3)
    assert parse_override("hydra.run.dir=x") is None
    assert parse_override("scenario=glob(*)") == ("scenario", "glob(*)")


def test_run_dir_rows_and_problem_files(dirs):
    s = load(dirs["run"])
    df = s.frame()
    assert s.kind == "run" and len(df) == 3
    assert list(df.columns[: len(TIDY_COLUMNS)]) == list(TIDY_COLUMNS)
    assert df["status"].eq("ok").all() and df["replicate"].tolist() == [0, 1, 2]
    assert df["scenario"].eq("baseline").all() and df["start_year"].eq(2025.0).all()
    for c in ("phase_reached", "first_year_nascent", "final_trust_mean", "level_OTS_TUR", "founded_OTS"):
        assert c in df.columns
    # levels the summary leaves out (not a participant) are "none", never missing, for finished rows
    assert df["level_OTS_KOR"].eq("none").all()
    # the broken tables are reported when a figure reads them, and the other tables still read
    assert s.read_job_table("agents", ["replicate"]) is None
    assert s.read_job_table("events") is None
    assert s.read_job_table("timeseries", ["replicate", "year"]) is not None
    probs = {(p["file"], p["problem"].split(":")[0]) for p in s.problems}
    assert probs == {("agents.parquet", "unreadable"), ("events.parquet", "missing")}


def test_killed_run_is_one_incomplete_row(dirs):
    df = load(dirs["killed"]).frame()
    assert len(df) == 1
    row = df.iloc[0]
    assert row["status"] == "incomplete" and "no summary.json" in row["error"]
    assert pd.isna(row["replicate"])


def test_multirun_failed_job_is_listed_with_its_error(dirs):
    s = load(dirs["multi"])
    df = s.frame()
    assert s.kind == "multirun" and len(df) == 4 * 2 + 1
    assert s.factors == ["params.pressure.intensity"]  # scenario goes to its own column
    bad = df[df["status"] != "ok"]
    assert len(bad) == 1
    assert bad.iloc[0]["status"] == "failed" and "outside [0, 1]" in bad.iloc[0]["error"]
    assert bad.iloc[0]["params.pressure.intensity"] == 1.5
    ok = df[df["status"] == "ok"]
    assert sorted(ok["label"].unique()) == sorted(
        f"{sc}, pressure.intensity={x}" for sc in ("baseline", "russia_resurgence") for x in (0.2, 0.8))
    assert ok.groupby("point").size().tolist() == [2, 2, 2, 2]
    # jobs keep Hydra's job order (hydra.job.num), points follow it
    assert df.drop_duplicates("point")["job"].tolist()[:2] == [
        "params.pressure.intensity=0.2,scenario=baseline", "params.pressure.intensity=0.8,scenario=baseline"]
    assert "python -m sim -m" in s.commands[0]


def test_experiment_failed_rows_and_missing_keys(dirs, tmp_path):
    s = load(dirs["exp"])
    df = s.frame()
    assert s.kind == "experiment" and len(df) == 6 * 2
    assert s.factors == ["params.pressure.intensity", "params.identity.confidence"]
    assert s.numeric_factors == s.factors
    bad = df[df["status"] == "failed"]
    assert bad[["point", "replicate"]].values.tolist() == [[1, 1]] and "overflow" in bad.iloc[0]["error"]
    assert s.question.startswith("Does more pressure")
    assert s.commands == ["python -m sim +experiment=pressure_identity_grid"]
    # a key without any row (a killed sweep) is listed as incomplete, with its factor values
    d = shutil.copytree(dirs["exp"], tmp_path / "exp")
    res = pq.read_table(d / "results.parquet").to_pandas()
    res[~((res["point"] == 4) & (res["replicate"] == 0))].to_parquet(d / "results.parquet", index=False)
    df2 = load(d).frame()
    inc = df2[df2["status"] == "incomplete"]
    assert len(df2) == 12 and inc[["point", "replicate"]].values.tolist() == [[4, 0]]
    assert inc.iloc[0]["params.pressure.intensity"] == 0.8


def test_experiment_with_unreadable_results_still_loads(dirs, tmp_path):
    d = shutil.copytree(dirs["exp"], tmp_path / "exp")
    (d / "results.parquet").write_bytes(b"PAR1 not really")
    s = load(d)
    df = s.frame()
    assert (df["status"] == "incomplete").sum() == 12  # every expected key, none finished
    assert any(p["file"] == "results.parquet" and p["problem"].startswith("unreadable") for p in s.problems)


def test_shards_merge_to_the_single_machine_table(dirs):
    one = load(dirs["exp"]).frame().sort_values(["point", "replicate"]).reset_index(drop=True)
    merged = load(dirs["shards"])
    m = merged.frame().sort_values(["point", "replicate"]).reset_index(drop=True)
    assert merged.kind == "shards" and len(m) == 12
    assert set(m["job"]) == {"shard_0of2", "shard_1of2"}
    cols = ["point", "replicate", "status", "phase_reached", "final_trust_mean", "params.identity.confidence"]
    pd.testing.assert_frame_equal(m[cols], one[cols])
    # the same two shard directories given on the command line merge the same way
    again = load([dirs["shards"] / "shard_0of2", dirs["shards"] / "shard_1of2"]).frame()
    assert len(again) == 12 and again["status"].value_counts().to_dict() == {"ok": 11, "failed": 1}


def test_missing_shard_is_reported_not_guessed(dirs, tmp_path):
    d = tmp_path / "shards"
    shutil.copytree(dirs["shards"] / "shard_0of2", d / "shard_0of2")
    s = load(d)
    assert len(s.frame()) == 6
    assert any("1 of 2 shards present" in p["problem"] for p in s.problems)


def test_several_run_dirs_are_sources(dirs):
    s = load([dirs["run"], dirs["killed"]])
    df = s.frame()
    assert set(df["source"]) == {"run", "killed"}
    assert df["status"].value_counts().to_dict() == {"ok": 3, "incomplete": 1}


def test_world_from_the_resolved_config(dirs):
    w = load(dirs["run"]).world
    assert w is not None and "TUR" in w.codes and math.isclose(float(w.capability.sum()), 1.0)


def test_summary_json_corrupt_is_a_failed_row(dirs, tmp_path):
    d = shutil.copytree(dirs["run"], tmp_path / "run")
    (d / "summary.json").write_text("{not json")
    df = load(d).frame()
    assert df["status"].tolist() == ["failed"] and "summary.json unreadable" in df.iloc[0]["error"]


def test_inputs_are_never_modified(dirs):
    def snapshot(root):
        return {p.relative_to(root): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}

    before = snapshot(dirs["multi"])
    load(dirs["multi"]).read_job_table("agents")
    assert snapshot(dirs["multi"]) == before


def test_experiment_json_fields_read(dirs):
    exp = json.loads((dirs["exp"] / "experiment.json").read_text())
    s = load(dirs["exp"])
    assert s.experiment["name"] == exp["name"] and len(s.design) == exp["points"]
