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

import pandas as pd

import sim

from .load import Study

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;max-width:1050px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
.meta{color:#666;font-size:.9em}pre{background:#f6f6f6;padding:.7em;overflow-x:auto;font-size:.82em;white-space:pre-wrap}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f0f0f0}td.l,th.l{text-align:left}figure{margin:1.5em 0}figure img{max-width:100%;height:auto;
border:1px solid #eee}figcaption{font-size:.9em;color:#333;margin-top:.3em}.skip{color:#8a6d3b;background:#fcf8e3;
padding:.4em .7em;border-left:3px solid #e6c65c}.bad{color:#a94442}.question{font-size:1.05em;background:#eef5fb;
padding:.6em .9em;border-left:3px solid #2c6fb0;white-space:pre-wrap}details summary{cursor:pointer}
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


def render(study: Study, figures, tables: dict[str, pd.DataFrame], command: str = "", created: str = "") -> str:
    """The whole page as one string."""
    exp = study.experiment or {}
    title = exp.get("name") or ", ".join(p.name for p in study.roots)
    status = tables["status"]
    n_ok = int(status.loc[status["status"] == "ok", "rows"].sum())
    n_bad = int(status.loc[status["status"] != "ok", "rows"].sum())
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>sim report: {esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>Report: {esc(title)}</h1>",
        f'<p class="meta">{esc(study.kind)} · {len(study.jobs)} job(s) · {n_ok} finished replicate(s)'
        + (f' · <span class="bad">{n_bad} failed or incomplete row(s)</span>' if n_bad else "")
        + f" · sim {esc(sim.__version__)} · {esc(created)}</p>",
        "<h2>Question</h2>",
        f'<div class="question">{esc(study.question or "(no description in the inputs)")}</div>',
        "<h2>Inputs and command</h2>",
        "<p>" + "<br>".join(esc(p) for p in study.roots) + "</p>",
        "<pre>" + esc("\n".join(study.commands) or "(no command recorded)") + "</pre>",
    ]
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
    parts += ["<h2>Files</h2>",
              "<p><code>results.parquet</code> / <code>results.csv</code> (one row per point × replicate), "
              "<code>phase_counts.csv</code>, <code>failed.csv</code>, <code>figures/*.png</code> and "
              "<code>figures/*.pdf</code> beside this page.</p>",
              "<h2>Configuration</h2>",
              "<details><summary>Resolved config (.hydra/config.yaml of the first job)</summary>",
              f"<pre>{esc(study.config_text or '(no .hydra/config.yaml found)')}</pre></details>",
              f'<p class="meta">sim {esc(sim.__version__)} · report created {esc(created)}</p>',
              "</body></html>"]
    return "\n".join(parts) + "\n"


__all__ = ["CSS", "esc", "render", "table_html"]
