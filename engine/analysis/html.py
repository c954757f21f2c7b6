"""``feature_analysis_report.html``: ONE self-contained file.  plotly.js is inlined once in the
head, every chart is a plotly div, tables are plain HTML made sortable (click a header) and
searchable by a few lines of inline script; nothing is fetched from the network."""
from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd
import plotly.offline

from engine.analysis.exclusions import REASON_TITLES, REASONS
from engine.analysis.view import ReportView
from engine.plots import analysis as figs

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,Arial,sans-serif;margin:0;background:#f5f6f8;color:#222}
.wrap{max-width:1280px;margin:0 auto;padding:16px 24px 60px;background:#fff}
h1{border-bottom:3px solid #1f77b4;padding-bottom:8px}h2{margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#eef4fb;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px;color:#1f4e79}.card span{font-size:13px;color:#555}
.meta td{padding:2px 12px 2px 0;font-size:14px}
table.t{border-collapse:collapse;width:100%;font-size:12.5px;margin:8px 0}
table.t th{background:#1f77b4;color:#fff;position:sticky;top:0;cursor:pointer;padding:5px 6px;text-align:left;white-space:nowrap}
table.t td{border-bottom:1px solid #e4e4e4;padding:3px 6px;white-space:nowrap}
table.t tr:hover td{background:#f2f7fc}.scroll{max-height:520px;overflow:auto;border:1px solid #ddd}
input.filter{margin:6px 0;padding:5px 8px;width:320px}.note{color:#666;font-size:13px}
.flag{color:#b00;font-weight:600}details summary{cursor:pointer;font-weight:600;margin:8px 0}
ul.reasons li{margin:4px 0}code{background:#f0f0f0;padding:1px 4px;border-radius:3px}
"""

_JS = """
function sortTable(th){const t=th.closest('table'),i=[...th.parentNode.children].indexOf(th),
b=t.tBodies[0],rows=[...b.rows],asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
const v=r=>{const s=r.cells[i].innerText.trim(),n=parseFloat(s.replace('%',''));return isNaN(n)?s.toLowerCase():n};
rows.sort((x,y)=>{const a=v(x),c=v(y);return (a<c?-1:a>c?1:0)*(asc?1:-1)});rows.forEach(r=>b.appendChild(r));}
function filterTable(inp,id){const q=inp.value.toLowerCase();
for(const r of document.getElementById(id).tBodies[0].rows){r.style.display=r.innerText.toLowerCase().includes(q)?'':'none'}}
document.addEventListener('click',e=>{if(e.target.tagName==='TH'&&e.target.closest('table.t'))sortTable(e.target)});
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.6g}"
    return str(v)


def table(df: pd.DataFrame, tid: str, *, filter_box: bool = False, max_rows: int | None = None) -> str:
    d = df if max_rows is None else df.head(max_rows)
    body = d.to_html(index=False, table_id=tid, classes="t", border=0, na_rep="", float_format=lambda x: f"{x:.6g}")
    box = (f'<input class="filter" placeholder="search features ..." oninput="filterTable(this,\'{tid}\')">'
           if filter_box else "")
    return f'{box}<div class="scroll">{body}</div>'


def _fig(fig) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _cards(items: list[tuple[str, Any]]) -> str:
    return '<div class="cards">' + "".join(f'<div class="card"><b>{html.escape(_fmt(v))}</b><span>{html.escape(k)}</span></div>'
                                           for k, v in items) + "</div>"


def build_html(v: ReportView) -> str:
    m = v.meta
    opts = m.get("options", {})
    summary = m.get("summary", {})
    split = m.get("split", {})
    top_n = int(opts.get("top_n", 30))
    top = v.top_features(top_n)
    reason_of = v.reason_of()
    counts = v.reason_counts()
    esc = html.escape
    parts = [f"<h1>Feature analysis: {esc(str(m.get('target', '')))}</h1>",
             '<table class="meta">' + "".join(
                 f"<tr><td><b>{esc(k)}</b></td><td>{esc(str(val))}</td></tr>" for k, val in [
                     ("report", m.get("report_id", "")), ("feature set", m.get("featureset_id", "")),
                     ("symbols / timeframe", f"{', '.join(m.get('symbols', []))} {m.get('timeframe', '')}"),
                     ("target", f"{m.get('target', '')} ({m.get('target_type', '')})"),
                     ("train", f"{split.get('train_start', '')} -> {split.get('train_end', '')}"),
                     ("validation", f"{split.get('val_start', '')} -> {split.get('val_end', '')}"),
                     ("test", f"{split.get('test_start', '')} -> {split.get('test_end', '')}"),
                     ("purge gap", f"{split.get('purge_bars', '')} bars"), ("created", m.get("created_at", ""))]) + "</table>",
             ('<p class="note">Statistics, importance, outliers, by-class statistics, correlations and exclusions use the '
             'TRAIN split only; drift compares train with validation and test.</p>'),
             "<h2>Summary</h2>",
             _cards([("features", summary.get("n_features", len(v.features))), ("included", len(v.included)),
                     *((r.replace("_", " "), counts[r]) for r in REASONS),
                     ("correlated pairs", len(v.pairs)), ("drifted", int(v.drift["drifted"].sum()) if len(v.drift) else 0),
                     ("train rows", summary.get("train_rows", "")), ("val rows", summary.get("val_rows", "")),
                     ("test rows", summary.get("test_rows", ""))]),
             _cards([(f"class {k}", n) for k, n in m.get("class_counts", {}).items()]),
             _fig(figs.exclusions_bar(counts, len(v.included))),
             f"<h2>Importance (top {len(top)})</h2>",
             (f'<p class="note">Mutual information on {summary.get("mi_rows", "?")} train rows (sample cap '
             f'{opts.get("mi_max_rows", "?")}), ANOVA F-score on all train rows; combined = mean of the normalised scores.</p>'),
             _fig(figs.importance_bar(v.importance, top_n, reason_of)),
             table(v.importance.head(top_n).assign(excluded=lambda d: d["feature"].map(lambda f: reason_of.get(f, ""))), "imp")]
    if len(v.distributions):
        binned = set(v.distributions["feature"])
        parts += ["<h2>Distributions</h2>", ('<p class="note">Share of rows per bin for train, validation and test; '
                  'choose a feature in the menu (top features by importance).</p>'),
                  _fig(figs.distributions_dropdown(v.distributions, [f for f in top if f in binned]))]
    if {"q25", "q75"} <= set(v.by_class.columns):
        parts += ["<h2>By class</h2>", ('<p class="note">Box = quartiles, whiskers = 5%/95%, dashed = mean; '
                  'separation = eta² (share of variance explained by the class).</p>'),
                  _fig(figs.by_class_dropdown(v.by_class, top))]
    if len(v.corr):
        cf = [f for f in top if f in v.corr.index]
        parts += ["<h2>Correlation</h2>", _fig(figs.correlation_heatmap(v.corr, cf)),
                  f"<h3>Pairs with |r| > {opts.get('corr_threshold', 0.95)} ({len(v.pairs)})</h3>",
                  table(v.pairs, "pairs", filter_box=True)]
    parts += ["<h2>Outliers (top 20 by IQR share)</h2>", table(v.outliers, "out", max_rows=20)]
    if len(v.drift):
        flagged = v.drift.sort_values(["drifted", "psi_test"], ascending=[False, False])
        parts += ["<h2>Drift (train vs validation / test)</h2>",
                  (f'<p class="note">Flagged when PSI &gt; {opts.get("psi_threshold", 0.2)} or KS statistic &gt; '
                  f'{opts.get("ks_threshold", 0.1)} in either split.</p>'),
                  _fig(figs.drift_bar(v.drift, top_n, float(opts.get("psi_threshold", 0.2)))),
                  table(flagged, "drift", filter_box=True)]
    parts.append("<h2>Exclusions</h2><ul class='reasons'>")
    for r in REASONS:
        feats = v.exclusions[v.exclusions["reason"] == r]
        title = REASON_TITLES[r].format(corr=opts.get("corr_threshold", 0.95), missing=opts.get("missing_threshold_pct", 90),
                                        low=opts.get("low_importance_pct", 5))
        parts.append(f"<li><b>{esc(title)}</b>: {len(feats)}</li>")
    parts.append("</ul>")
    parts.append(table(v.exclusions, "excl", filter_box=True))
    parts += [(f"<details><summary>Included features ({len(v.included)}): the whitelist training uses</summary>"
              f"<p>{esc(', '.join(v.included))}</p></details>"),
              f"<h2>All statistics ({len(v.statistics)} features)</h2>", table(v.statistics, "stats", filter_box=True),
              "<details><summary>Statistics by class</summary>" + table(v.by_class, "bycls", filter_box=True) + "</details>"]
    title = esc(f"Feature analysis {m.get('report_id', '')}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_CSS}</style>"
            f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script><script>{_JS}</script></head>"
            f"<body><div class='wrap'>{''.join(parts)}</div></body></html>")
