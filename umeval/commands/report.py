"""``umeval report <result folder(s)> -o report.html``: one self-contained static HTML page of results.

Everything is inside the file: the charts are SVG drawn by matplotlib and written inline, thumbnails are
base64 JPEG data URIs, the small sorting script and the styles are inline.  The page loads nothing from the
network, so it works when mailed or opened from a disk.  It holds:

- the leaderboard (tasks, then roll-ups; click a column head to sort), with failed tasks in red and queries
  with tied scores (``n_tied``) in amber;
- main scores by meta-category and by modality, one bar per model and mode (disc, gen, oracle);
- per-task deltas: the second model against the first, or gen against disc for one model;
- pass@k curves per task and their mean, for sampled generative runs;
- a trace browser for generative runs: per task, the first queries with their reasoning trace, whether
  ``<gen_emb>`` was generated, and the top-5 candidates of disc (before) and gen (after), with thumbnails of
  images and video frames where the media files are readable.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

import umeval
from umeval.commands.export import ResultSet, load_results, value_columns, wide_table
from umeval.core.errors import DependencyError

MODE_COLOURS = {"disc": "#4c78a8", "gen": "#f58518", "oracle": "#54a24b"}
EXTRA_COLOURS = ["#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac", "#eeca3b"]
THUMB_PX = 96
#: Most thumbnails one page embeds (about 3 KB each), so a 78-task report stays a few MB; later items show text.
MAX_THUMBNAILS = 400


# ---------------------------------------------------------------- charts

def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise DependencyError("umeval report draws its charts with matplotlib", "pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "font.family": "sans-serif"})
    return plt


def _svg(fig: Any, salt: str) -> str:
    """The figure as an inline ``<svg>`` element (ids salted per chart, so several charts never share one)."""
    plt = _pyplot()
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _series(rs: ResultSet) -> list[tuple[str, str, str]]:
    """(model, mode, label) of every bar series, in model then mode order."""
    multi = len(rs.models) > 1
    out = []
    for model in rs.models:
        for mode in rs.modes(model):
            out.append((model, mode, f"{model} {mode}" if multi else mode))
    return out


def _colour(i: int, mode: str, multi: bool) -> str:
    """One colour per mode for one model; one per series (model and mode) for several."""
    if not multi:
        return MODE_COLOURS.get(mode, "#888888")
    palette = list(MODE_COLOURS.values()) + EXTRA_COLOURS
    return palette[i % len(palette)]


def bar_chart(table: pd.DataFrame, rs: ResultSet, level: str, title: str) -> str:
    """Grouped bars of main scores (x100) for the roll-up rows of ``level``."""
    plt = _pyplot()
    rows = table[table["level"].isin([level] if level != "modality" else ["modality", "overall"])]
    series = [(label, label) for _, _, label in _series(rs)]
    names = rows["name"].tolist()
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(names) * max(1, len(series)) ** 0.5 + 1.5), 3.0))
    multi = len(rs.models) > 1
    for i, (label, col) in enumerate(series):
        vals = [100 * v if pd.notna(v) else 0.0 for v in rows[col]]
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(names))]
        mode = label.split()[-1]
        bars = ax.bar(xs, vals, width * 0.95, label=label, color=_colour(i, mode, multi))
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    tilt = len(names) > 6
    ax.set_xticks(range(len(names)), names, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_ylabel("main score (x100)")
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False, ncols=min(len(series), 4), loc="upper left", bbox_to_anchor=(0, -0.18))
    return _svg(fig, f"bars-{level}")


def delta_chart(rs: ResultSet, table: pd.DataFrame) -> tuple[str, str] | None:
    """Per-task delta (points) between two models (same mode) or gen and disc of one model; None if neither."""
    tasks = table[table["level"] == "task"]
    cols = set(value_columns(table))
    if len(rs.models) >= 2:
        a, b = rs.models[:2]
        mode = next((m for m in ("gen", "disc") if f"{a} {m}" in cols and f"{b} {m}" in cols), None)
        if mode is None:
            return None
        base, cand, title = f"{a} {mode}", f"{b} {mode}", f"{b} minus {a} ({mode}), points"
    else:
        if "gen" not in cols or "disc" not in cols:
            return None
        base, cand, title = "disc", "gen", "gen minus disc, points"
    d = pd.DataFrame({"task": tasks["name"], "delta": 100 * (tasks[cand] - tasks[base])}).dropna()
    if d.empty:
        return None
    d = d.sort_values("delta")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, max(1.6, 0.24 * len(d) + 0.8)))
    colours = ["#54a24b" if v >= 0 else "#e45756" for v in d["delta"]]
    bars = ax.barh(d["task"], d["delta"], color=colours)
    ax.bar_label(bars, fmt="%+.1f", fontsize=7, padding=2)
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_title(title)
    lim = max(1.0, float(d["delta"].abs().max())) * 1.3  # symmetric around 0: gains and losses read alike
    ax.set_xlim(-lim, lim)
    return title, _svg(fig, "deltas")


def passk_chart(rs: ResultSet, model: str) -> str | None:
    """pass@k of the main metric per task (thin) and its mean over tasks (thick), for a sampled gen run."""
    curves = {}
    for s in rs.of(model, "gen"):
        pk = {int(k.split("@")[1]): v for k, v in (s.get("metrics") or {}).items() if k.startswith("pass@")}
        if len(pk) > 1:
            curves[s["task"]] = dict(sorted(pk.items()))
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ks = sorted({k for c in curves.values() for k in c})
    for task, c in curves.items():
        ax.plot(list(c), [100 * v for v in c.values()], marker="o", markersize=3, linewidth=1, alpha=0.6, label=task)
    mean = [100 * sum(c[k] for c in curves.values() if k in c) / sum(k in c for c in curves.values()) for k in ks]
    ax.plot(ks, mean, color="#222222", linewidth=2.5, marker="s", label="mean over tasks")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k of the main metric (x100)")
    ax.set_title(f"{model}: pass@k")
    if len(curves) <= 12:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1))
    return _svg(fig, f"passk-{model}")


# ---------------------------------------------------------------- tables

def _cell(v: Any, col: str, vals: set[str]) -> str:
    if col in vals:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return '<td class="num" data-v="">-</td>'
        return f'<td class="num" data-v="{v:.6f}">{100 * v:.1f}</td>'
    if col in ("tasks", "n_queries", "n_tied"):
        cls = "num warn" if col == "n_tied" and int(v) > 0 else "num"
        tip = ' title="queries whose ranking had tied scores at a cut-off"' if "warn" in cls else ""
        return f'<td class="{cls}" data-v="{int(v)}"{tip}>{int(v)}</td>'
    text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
    return f'<td data-v="{html.escape(text)}">{html.escape(text)}</td>'


def html_table(df: pd.DataFrame, table_id: str) -> str:
    vals = set(value_columns(df))
    cols = list(df.columns)
    head = "".join(f'<th onclick="sortBy(\'{table_id}\', {i})" title="sort">{html.escape(str(c))}</th>'
                   for i, c in enumerate(cols))
    rows = []
    for _, r in df.iterrows():
        cls = ' class="fail"' if str(r.get("failed", "") or "") else ""
        rows.append(f"<tr{cls}>" + "".join(_cell(r[c], c, vals) for c in cols) + "</tr>")
    return (f'<table id="{table_id}" class="board"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


# ---------------------------------------------------------------- trace browser

_thumb_cache: dict[str, str | None] = {}
_thumb_budget = [MAX_THUMBNAILS]


def thumbnail(display: str) -> str | None:
    """A data URI of a small JPEG for the first readable image or video frame named in a display text.

    A path seen before reuses its thumbnail; new ones stop once the page's budget is spent.
    """
    for part in display.split(" | "):
        kind, _, path = part.partition(" ")
        if kind not in ("image", "video") or not path:
            continue
        if path in _thumb_cache:
            return _thumb_cache[path]
        if _thumb_budget[0] <= 0:
            return None
        _thumb_budget[0] -= 1
        uri = None
        p = Path(path)
        if kind == "video" and p.is_dir():
            frames = sorted(f for f in p.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
            p = frames[0] if frames else p
        if p.is_file():
            try:
                from PIL import Image

                with Image.open(p) as src:
                    im = src.convert("RGB")
                    im.thumbnail((THUMB_PX, THUMB_PX))
                    buf = io.BytesIO()
                    im.save(buf, format="JPEG", quality=80)
                uri = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
            except (OSError, ValueError):
                uri = None
        _thumb_cache[path] = uri
        return uri
    return None


def _item_html(display: str) -> str:
    uri = thumbnail(display)
    img = f'<img class="thumb" src="{uri}" alt="">' if uri else ""
    return f'{img}<span class="itemtext">{html.escape(display)}</span>'


def _topk_list(texts: Any, n: int = 5) -> str:
    items = list(texts)[:n] if texts is not None else []
    if not items:
        return "<p class='muted'>(not available)</p>"
    return "<ol>" + "".join(f"<li>{_item_html(str(t))}</li>" for t in items) + "</ol>"


def trace_browser(rs: ResultSet, model: str, per_task: int) -> str:
    folder = rs.folders.get(model)
    if folder is None:
        return ""
    blocks: list[str] = []
    for s in rs.of(model, "gen"):
        if s.get("status") != "ok":
            continue
        tdir = folder / "tasks" / s["task"]
        tr_path, gen_path, disc_path = tdir / "gen/traces.parquet", tdir / "gen/per_query.parquet", \
            tdir / "disc/per_query.parquet"
        if not tr_path.exists() or not gen_path.exists():
            continue
        m = s["main_metric"]
        traces = pd.read_parquet(tr_path)
        q_tr = traces[(traces["role"] == "query") & (traces["sample"] == 0)].set_index("item_id")
        gen = pd.read_parquet(gen_path).set_index("query_id")
        disc = pd.read_parquet(disc_path).set_index("query_id") if disc_path.exists() else None
        share = float(traces["has_gen_emb"].mean()) if len(traces) else float("nan")
        cards: list[str] = []
        for qid in list(gen.index)[:per_task]:
            g = gen.loc[qid]
            t = q_tr.loc[qid] if qid in q_tr.index else None
            d = disc.loc[qid] if disc is not None and qid in disc.index else None
            badge = ('<span class="badge ok">&lt;gen_emb&gt; generated</span>' if t is not None and t["has_gen_emb"]
                     else '<span class="badge bad">no &lt;gen_emb&gt;</span>')
            info = "" if t is None else f'<span class="muted">{int(t["n_tokens"])} tokens, {t["finish_reason"]}</span>'
            dv = f"{100 * d[m]:.1f}" if d is not None and m in d else "-"
            qtext = str(g["query_text"]) if "query_text" in g else str(qid)
            first = " open" if not blocks and not cards else ""  # the first query of the first task is open
            cards.append(
                f'<details class="query"{first}><summary>{html.escape(qtext[:140])} '
                f'<span class="muted">{m}: disc {dv} &rarr; gen {100 * g[m]:.1f}</span></summary>'
                f'<div class="qbody"><div class="qhead">{_item_html(qtext)} {badge} {info}</div>'
                f'<pre class="trace">{html.escape(str(t["text"]) if t is not None else "(no trace)")}</pre>'
                f'<div class="cols"><div><h5>top 5 before (disc)</h5>'
                f'{_topk_list(d["topk_text"] if d is not None and "topk_text" in d else None)}</div>'
                f'<div><h5>top 5 after (gen)</h5>{_topk_list(g["topk_text"] if "topk_text" in g else None)}</div>'
                f"</div></div></details>")
        more = f" (first {per_task} of {len(gen)})" if len(gen) > per_task else ""
        opened = "" if blocks else " open"
        blocks.append(f'<details class="task"{opened}><summary><b>{html.escape(s["task"])}</b>: {len(gen)} queries'
                      f"{more}, &lt;gen_emb&gt; in {100 * share:.0f}% of traces</summary>{''.join(cards)}</details>")
    if not blocks:
        return ""
    return f"<h3>{html.escape(model)}</h3>" + "".join(blocks)


# ---------------------------------------------------------------- page

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;
color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table.board{border-collapse:collapse;font-size:13px;margin:8px 0}
.board th{background:#f3f3f3;cursor:pointer;padding:4px 8px;border-bottom:2px solid #ccc;text-align:left;
white-space:nowrap}
.board th:hover{background:#e4e4e4}.board td{padding:3px 8px;border-bottom:1px solid #eee}
.board td.num{text-align:right;font-variant-numeric:tabular-nums}
.board tr.fail td{background:#fde2e1}.board td.warn{background:#fff1cc;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}.charts svg{max-width:100%;height:auto}
.muted{color:#777;font-size:12px}.badge{font-size:11px;padding:1px 6px;border-radius:8px;margin-left:6px}
.badge.ok{background:#dcf2dc;color:#205020}.badge.bad{background:#fde2e1;color:#8a1c1c}
details.task{margin:6px 0;border:1px solid #ddd;border-radius:6px;padding:6px 10px}
details.query{margin:4px 0 4px 12px}.qbody{margin:6px 0 10px 12px}
pre.trace{white-space:pre-wrap;background:#f7f7f7;padding:8px;border-radius:4px;font-size:12px;max-height:240px;
overflow:auto}
.cols{display:flex;gap:24px}.cols>div{flex:1}.cols ol{padding-left:20px;margin:0}.cols li{margin:4px 0}
img.thumb{max-width:64px;max-height:64px;vertical-align:middle;margin-right:6px;border:1px solid #ccc}
.itemtext{font-size:12px;word-break:break-all}.legend span{margin-right:12px}
"""

SCRIPT = """
function sortBy(id, col) {
  var table = document.getElementById(id);
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var asc = table.getAttribute('data-sort') !== col + ':asc';
  rows.sort(function (a, b) {
    var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
    if (x === '' || y === '') { return x === y ? 0 : (x === '' ? 1 : -1); }  // empty cells last, either way
    var nx = parseFloat(x), ny = parseFloat(y);
    var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
    return asc ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
  table.setAttribute('data-sort', col + (asc ? ':asc' : ':desc'));
}
"""


def build(rs: ResultSet, *, traces_per_task: int = 10, max_thumbnails: int = MAX_THUMBNAILS) -> str:
    _thumb_cache.clear()
    _thumb_budget[0] = max_thumbnails
    table = wide_table(rs)
    tasks = table[table["level"] == "task"]
    rolls = table[table["level"] != "task"]
    n_fail = int((tasks["failed"].astype(str) != "").sum())
    n_tied = int((tasks["n_tied"] > 0).sum())
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>umeval report: {html.escape(', '.join(rs.models))}</title>",
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        f"<h1>umeval report: {html.escape(', '.join(rs.models))}</h1>",
        f"<p class='muted'>umeval {umeval.__version__}, generated {datetime.now(UTC).isoformat(timespec='seconds')}; "
        f"{len(tasks)} tasks; scores x100 (main metric of each task).</p>",
        "<h2>Leaderboard</h2>",
        f"<p class='legend'><span class='muted'>click a column head to sort.</span> "
        f"<span>{n_fail} failed task(s) in <span style='background:#fde2e1'>red</span></span>"
        f"<span>{n_tied} task(s) with tied scores (n_tied) in <span style='background:#fff1cc'>amber</span></span></p>",
        html_table(tasks.drop(columns=["level"]), "tasks"),
        "<h3>Roll-ups</h3>",
        html_table(rolls, "rollups"),
        "<h2>Disc, gen and oracle by category</h2><div class='charts'>",
        bar_chart(table, rs, "meta", "by meta-category"),
        bar_chart(table, rs, "modality", "by modality and overall"),
        "</div>",
    ]
    delta = delta_chart(rs, table)
    if delta:
        parts += ["<h2>Per-task deltas</h2><div class='charts'>", delta[1], "</div>"]
    curves = [c for c in (passk_chart(rs, m) for m in rs.models) if c]
    if curves:
        parts += ["<h2>pass@k</h2><div class='charts'>", *curves, "</div>"]
    browsers = [b for b in (trace_browser(rs, m, traces_per_task) for m in rs.models) if b]
    if browsers:
        parts += ["<h2>Generative traces</h2>", "<p class='muted'>per task, the first queries: the reasoning "
                  "trace of sample 0 and the top 5 before (disc) and after (gen).</p>", *browsers]
    parts.append("</body></html>")
    return "\n".join(parts)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="umeval report", description=(
        "Write one self-contained HTML page (charts inline, no network needed) of finished results: leaderboard, "
        "disc/gen/oracle bars, per-task deltas, pass@k curves and a trace browser of generative runs."))
    p.add_argument("folders", nargs="+", metavar="RESULTS", help="result folders (an output_dir or a model folder)")
    p.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default: report.html)")
    p.add_argument("--traces", type=int, default=10, metavar="N", help="queries per task in the trace browser")
    p.add_argument("--thumbnails", type=int, default=MAX_THUMBNAILS, metavar="N",
                   help="most image thumbnails in the page (bounds its size)")
    return p


def main(args: list[str]) -> int:
    ns = parser().parse_args(args)
    page = build(load_results(ns.folders), traces_per_task=ns.traces, max_thumbnails=ns.thumbnails)
    from umeval.results.files import atomic_write

    out = Path(ns.output)
    atomic_write(out, lambda p: p.write_text(page, encoding="utf-8"))
    print(f"wrote {out} ({len(page.encode()) // 1024} KiB)")
    return 0
