"""The self-contained ``report.html``: inline CSS, figures as base64 PNG data URIs, no external reference.

Every text that comes from the inputs (scenario names and descriptions,
config values, paths, errors) goes through :func:`esc` (``html.escape``, and
``://`` written as ``:&#47;&#47;`` so that not even a URL quoted in a
description appears literally in the file: the page opens offline from any
copy and references nothing outside itself).
"""

from __future__ import annotations

import base64
import html
import math

import pandas as pd

import sim

from .load import Study

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;max-width:1180px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
.meta{color:#666;font-size:.9em}pre{background:#f6f6f6;padding:.7em;overflow-x:auto;font-size:.82em;white-space:pre-wrap}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f0f0f0}td.l,th.l{text-align:left}figure{margin:1.5em 0}figure img{max-width:100%;height:auto;
border:1px solid #eee}figcaption{font-size:.9em;color:#333;margin-top:.3em}.skip{color:#8a6d3b;background:#fcf8e3;
padding:.4em .7em;border-left:3px solid #e6c65c}.bad{color:#a94442}.question{font-size:1.05em;background:#eef5fb;
padding:.6em .9em;border-left:3px solid #2c6fb0;white-space:pre-wrap}details summary{cursor:pointer}
.wide{overflow-x:auto}table.headline{font-size:.76em;width:100%}table.headline td{vertical-align:top;
white-space:nowrap;padding:.2em .35em}table.headline th{padding:.2em .35em}
table.headline .ci{color:#555}table.headline .d{color:#333;font-size:.92em;margin-top:.1em}
table.headline .sig{color:#b2182b}table.headline tr.ref td{background:#f7fbff}
table.headline td.l{white-space:normal;overflow-wrap:break-word;min-width:8em;max-width:16em}.caption{font-size:.9em;color:#333}
ul.context{margin:.4em 0;padding-left:1.3em;font-size:.92em}
"""


def esc(value) -> str:
    """Escape any value for HTML text or attributes; also breaks ``://`` so no literal URL reaches the page."""
    return html.escape("" if value is None else str(value), quote=True).replace("://", ":&#47;&#47;")


def table_html(df: pd.DataFrame, index: bool = False, left: tuple[str, ...] = (), max_rows: int = 0,
               more: str = "") -> str:
    """A plain HTML table, every cell escaped; ``left`` columns left-aligned (text).

    With ``max_rows`` only that many rows are shown, followed by a line saying
    how many more there are and where (``more``, e.g. the CSV file).
    """
    if index:
        df = df.reset_index()
    if df.empty:
        return "<p>none</p>"
    tail = ""
    if max_rows and len(df) > max_rows:
        tail = f'<p class="meta">… {len(df) - max_rows} more row(s){esc(" in " + more) if more else ""}.</p>'
        df = df.head(max_rows)
    head = "".join(f'<th class="{"l" if c in left else ""}">{esc(c)}</th>' for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            text = f"{v:.3g}" if isinstance(v, float) else v
            cells.append(f'<td class="{"l" if c in left else ""}">{esc(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{tail}"


#: Short outcome names for the "differs from" column.
SHORT = {"P(≥ nascent)": "nascent", "P(≥ ascendant)": "ascendant", "P(≥ mature-loose)": "mature",
         "P(mature-tight)": "tight", "years to first phase advance": "years", "final members": "members",
         "member trust": "trust", "incidents among members": "incidents"}


def _num(v: float, fmt: str, sign: bool = False) -> str:
    """``fmt`` of v with a real minus sign; with ``sign`` (a difference), a value that ``fmt`` would round to
    zero keeps 2 significant digits (a difference of 0.004 is not shown as 0.00); exactly 0 has no sign."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    v = float(v)
    text = fmt.format(v)
    if sign and v != 0 and float(text) == 0:
        text = f"{v:.2g}"
    if v == 0 or float(text) == 0:
        text = fmt.format(0.0)
    elif sign and v > 0:
        text = "+" + text
    return text.replace("-", "−")


def headline_html(df: pd.DataFrame, reference, max_rows: int = 60) -> tuple[str, list[str]]:
    """Table 1: one row per group, one column per outcome: estimate [95% CI] and, below, Δ vs the reference.

    Returns the table and the names of the outcomes left out because every
    group has the same share of exactly 1 (e.g. a phase every run starts in).
    """
    if df is None or df.empty:
        return "<p>none (no finished replicate)</p>", []
    keys = list(dict.fromkeys(df["key"]))
    dropped = []
    for k in list(keys):
        sub = df[df["key"] == k]
        if sub["kind"].iloc[0] == "share" and (sub["estimate"] == 1).all():
            keys.remove(k)
            dropped.append(sub["name"].iloc[0])
    spec = df.drop_duplicates("key").set_index("key")
    head = ['<th class="l">group</th>', "<th>n</th>"]
    for k in keys:
        unit = spec.loc[k, "unit"]
        head.append(f"<th>{esc(spec.loc[k, 'name'])}<br><span class=\"ci\">{esc(unit)}</span></th>")
    if reference is not None:
        head.append('<th class="l">differs from the reference (95%)</th>')
    rows = []
    groups = list(dict.fromkeys(df["group"]))
    for g in groups[:max_rows]:
        sub = df[df["group"] == g].set_index("key")
        is_ref = g == reference
        n = int(sub.loc[sub["kind"] == "share", "n"].max()) if (sub["kind"] == "share").any() else int(sub["n"].max())
        cells = [f'<td class="l"><b>{esc(g)}</b>' + ('<div class="d">reference</div>' if is_ref else "") + "</td>",
                 f"<td>{n}</td>"]
        differs = []
        for k in keys:
            if k not in sub.index:
                cells.append("<td>–</td>")
                continue
            r = sub.loc[k]
            fmt = r["format"]
            ci = f'<br><span class="ci">[{_num(r["lo"], fmt)}, {_num(r["hi"], fmt)}]</span>'
            txt = _num(r["estimate"], fmt) + ci
            if k == "years_to_advance":
                txt = (f'none advanced <span class="ci">(0/{n})</span>' if int(r["n"]) == 0 else
                       f'{_num(r["estimate"], fmt)} <span class="ci">({int(r["n"])}/{n})</span>{ci}')
            if not is_ref and reference is not None and not (isinstance(r["diff"], float) and math.isnan(r["diff"])):
                mark = ' <b class="sig" title="the 95% interval excludes 0">●</b>' if r["excludes_zero"] else ""
                unpaired = "" if int(r["pairs"]) else " (unpaired)"
                txt += (f'<div class="d">Δ {_num(r["diff"], fmt, sign=True)}{mark}<br><span class="ci">'
                        f'[{_num(r["diff_lo"], fmt, sign=True)}, {_num(r["diff_hi"], fmt, sign=True)}]'
                        f'{unpaired}</span></div>')
                if r["excludes_zero"]:
                    differs.append(f'{SHORT.get(r["name"], r["name"])} {_num(r["diff"], fmt, sign=True)}')
            cells.append(f"<td>{txt}</td>")
        if reference is not None:
            cells.append(f'<td class="l">{"reference" if is_ref else esc("; ".join(differs) or "no outcome")}</td>')
        rows.append(f'<tr class="{"ref" if is_ref else ""}">' + "".join(cells) + "</tr>")
    tail = (f'<p class="meta">… {len(groups) - max_rows} more group(s) in headline.csv.</p>'
            if len(groups) > max_rows else "")
    return (f'<div class="wide"><table class="headline" id="headline"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{tail}'), dropped


def render(study: Study, figures, tables: dict[str, pd.DataFrame], command: str = "", created: str = "",
           question: str | None = None, context: list[tuple[str, str]] | None = None,
           commands: list[str] | None = None, command_notes: list[str] | None = None, reference=None,
           pdf: bool = True, seed: int = 0) -> str:
    """The whole page as one string: question, headline table, command, figures, tables, files, config."""
    exp = study.experiment or {}
    title = exp.get("name") or ", ".join(p.name for p in study.roots)
    status = tables["status"]
    n_ok = int(status.loc[status["status"] == "ok", "rows"].sum())
    n_bad = int(status.loc[status["status"] != "ok", "rows"].sum())
    context = context or []
    if question:
        q_html = f'<div class="question" id="question">{esc(question)}</div>'
    elif exp.get("description"):
        q_html = (f'<div class="question" id="question">{esc(exp["description"])}</div>'
                  '<p class="meta">(the experiment\'s description: no <code>question:</code> in its config)</p>')
    else:
        q_html = ('<p class="skip" id="question">No research question recorded: give the run or experiment a '
                  '<code>question: "..."</code> in its config (or <code>question=...</code> on the command line) '
                  "and it is stated here.</p>")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>sim report: {esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>Report: {esc(title)}</h1>",
        f'<p class="meta">{esc(study.kind)} · {len(study.jobs)} job(s) · {n_ok} finished replicate(s)'
        + (f' · <span class="bad">{n_bad} failed or incomplete row(s)</span>' if n_bad else "")
        + f" · sim {esc(sim.__version__)} · {esc(created)}</p>",
        "<h2>Question</h2>", q_html,
    ]
    if context:
        parts.append('<p>Scenarios:</p><ul class="context">' + "".join(
            f"<li><b>{esc(name)}</b>" + (f": {esc(desc)}" if desc else "") + "</li>" for name, desc in context)
            + "</ul>")
    head = tables.get("headline")
    table, dropped = headline_html(head, reference)
    contrast = ""
    if reference is not None:
        paired = head is not None and len(head) and (head.loc[head["group"] != reference, "pairs"] > 0).any()
        contrast = (f" Second line (Δ): the difference from the reference group <b>{esc(reference)}</b> (group − "
                    "reference) with its 95% interval"
                    + (", pairing replicate k of each group with replicate k of the reference (the same seed: "
                       "common random numbers): Newcombe's (1998) paired score interval for shares, a percentile "
                       "bootstrap of the paired differences for means" if paired else
                       " (no replicate pairs up: independent-samples intervals)")
                    + '; <b class="sig">●</b> marks an interval that excludes 0. Choose the reference with '
                      "<code>--reference NAME</code>.")
    parts += [
        "<h2>Headline</h2>",
        '<p class="caption"><b>Table 1.</b> Main outcomes by the end of the run per scenario / point (n = finished '
        "replicates), each with its 95% interval: shares (P(≥ phase): the highest phase reached is that phase or "
        "higher) with the Wilson score interval; means with a percentile bootstrap (2,000 resamples, seed "
        f"{seed}). Years to first phase advance: the mean over the replicates that rose above their starting "
        f"phase (how many in brackets).{contrast}"
        + (f" Left out: {esc(', '.join(dropped))} (1 in every group)." if dropped else "")
        + " All numbers: <code>headline.csv</code>.</p>",
        table,
        "<h2>Inputs and command</h2>",
        "<p>" + "<br>".join(esc(p) for p in study.roots) + "</p>",
        "<pre>" + esc("\n".join(commands if commands is not None else study.commands) or "(no command recorded)")
        + "</pre>",
    ]
    for note in command_notes or []:
        parts.append(f'<p class="meta">Note: {esc(note)}.</p>')
    if command:
        parts.append(f"<p>Report made with:</p><pre>{esc(command)}</pre>")
    if study.factors:
        parts.append("<p>Varied parameters: " + ", ".join(f"<code>{esc(f)}</code>" for f in study.factors) + "</p>")
    parts += ["<h2>Runs</h2>", table_html(status, left=("status",))]
    parts.append("<h2>Figures</h2>")
    k = 0
    for f in figures:
        if f.drawn:
            k += 1
            b64 = base64.b64encode(f.png).decode("ascii")
            files = " · ".join(esc(x) for x in f.files)
            parts.append(f'<figure id="fig-{esc(f.name)}"><img src="data:image/png;base64,{b64}" '
                         f'alt="{esc(f.title)}"><figcaption><b>Figure {k}. {esc(f.title)}.</b> {esc(f.caption)}'
                         f' <span class="meta">({files})</span></figcaption></figure>')
        else:
            parts.append(f'<p class="skip">Skipped: <b>{esc(f.title)}</b>: {esc(f.note)}.</p>')
    for note in dict.fromkeys(study.notes):
        parts.append(f'<p class="skip">Note: {esc(note)}.</p>')
    parts += ["<h2>Phase reached per scenario / point</h2>",
              "<p>Counts of finished replicates by highest phase reached; failed and incomplete rows per group.</p>",
              table_html(tables["phase_counts"], index=True, left=("label",), max_rows=60, more="phase_counts.csv")]
    failed = tables["failed"]
    parts.append(f"<h2>Failed and incomplete jobs ({int(failed['rows'].sum()) if len(failed) else 0} row(s))</h2>")
    parts.append(table_html(failed, left=("source", "job", "label", "status", "error", "replicates"), max_rows=200,
                            more="failed.csv"))
    problems = tables.get("problems")
    if problems is not None and len(problems):
        parts += [f"<h2>Unreadable or missing files ({len(problems)})</h2>",
                  "<p>These files were skipped; the figures that need them use the other jobs.</p>",
                  table_html(problems, left=tuple(problems.columns))]
    has_pdf = any(x.endswith(".pdf") for f in figures for x in f.files)
    has_png = any(f.drawn for f in figures)
    files = ["<code>results.parquet</code> / <code>results.csv</code> (one row per point × replicate)"]
    if head is not None and len(head):
        files.append("<code>headline.csv</code> (Table 1)")
    files += ["<code>phase_counts.csv</code>", "<code>failed.csv</code>"]
    if has_png:
        files.append("<code>figures/*.png</code>" + (" and <code>figures/*.pdf</code>" if has_pdf else ""))
    parts += ["<h2>Files</h2>",
              f"<p>{', '.join(files)} beside this page"
              + ("" if has_pdf or not has_png else " (no PDFs: made with <code>--no-pdf</code>)") + ".</p>",
              "<h2>Configuration</h2>",
              "<details><summary>Resolved config (.hydra/config.yaml of the first job)</summary>",
              f"<pre>{esc(study.config_text or '(no .hydra/config.yaml found)')}</pre></details>",
              f'<p class="meta">sim {esc(sim.__version__)} · report created {esc(created)}</p>',
              "</body></html>"]
    return "\n".join(parts) + "\n"


__all__ = ["CSS", "esc", "headline_html", "render", "table_html"]
