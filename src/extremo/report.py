"""The standing of a campaign: ``summary.md``, ``summary.csv`` and an ``index.html`` gallery.

One row per instance: the record (value, source, date), extremo's value, the relative gap
(positive = short of the record), the seconds to the best and the verdict (``win`` / ``tie``
/ ``below``, see `extremo.sweep.verdict`; a ``win`` is marked *certified* once
`extremo.certificate` confirmed it exactly). The gallery shows each instance's picture
(``<slug>.png``, written by the runs into the same folder) with its row.
"""

from __future__ import annotations

import csv
import html
import io
import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path

from extremo.io import replace_atomically
from extremo.sweep import InstanceOutcome

COLUMNS = ("instance", "record", "record source", "value", "relative gap", "seconds to best", "verdict")

#: the note of a campaign run with ``--stop-at-record``
STOPPED_AT_RECORD = ("--stop-at-record: each instance with a record stopped as soon as its best tied or beat the "
                     "record, so a tie was not searched on for a win; instances without a record ran their full "
                     "budget.")


def _num(v: float | None, fmt: str) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def rows(outcomes: Sequence[InstanceOutcome], certified: set[str] = frozenset()) -> list[dict[str, str]]:
    """The table as strings; ``certified`` holds the labels whose win is certified."""
    out = []
    for o in outcomes:
        rec = o.record
        verdict = o.verdict or ""
        if verdict == "win":
            verdict = "win (certified)" if o.problem.label in certified else "win (not certified)"
        out.append({
            "instance": o.problem.label,
            "record": _num(rec.value if rec else None, ".13g"),
            "record source": f"{rec.source}, {rec.date}" if rec and rec.date else (rec.source if rec else ""),
            "value": _num(o.value, ".13g"),
            "relative gap": _num(o.gap, ".3e"),
            "seconds to best": _num(o.seconds_to_best, ".1f"),
            "verdict": verdict,
        })
    return out


#: the closeness the record tables are judged by besides the tie: a relative gap of at most this
WITHIN = 1e-6


def tally(table: list[dict[str, str]]) -> str:
    """``"3 win, 20 tie, 16 below (median gap 2.1e-04), 1 without record; 30 of 39 within 1e-06"``:
    the verdicts, the median relative gap of the ``below`` ones, and how many instances with a
    record end within a relative `WITHIN` of it (wins and ties count)."""
    counts: dict[str, int] = {}
    for r in table:
        key = r["verdict"].split(" ")[0] or "without record"
        counts[key] = counts.get(key, 0) + 1
    parts = {k: f"{counts[k]} {k}" for k in ("win", "tie", "below", "without record") if k in counts}
    below = [float(r["relative gap"]) for r in table if r["verdict"] == "below" and r["relative gap"]]
    if below:
        parts["below"] += f" (median gap {statistics.median(below):.1e})"
    judged = [r for r in table if r["verdict"]]
    close = sum(r["verdict"] != "below" or (r["relative gap"] != "" and float(r["relative gap"]) <= WITHIN)
                for r in judged)
    return ", ".join(parts.values()) + (f"; {close} of {len(judged)} within {WITHIN:.0e}" if judged else "")


def write_report(outcomes: Sequence[InstanceOutcome], out: str | os.PathLike, *, title: str,
                 provenance: str, certified: set[str] = frozenset(), notes: Sequence[str] = ()) -> list[Path]:
    """Write ``summary.md``, ``summary.csv`` and ``index.html`` into ``out``; returns their paths.

    ``provenance``: the command, date and commit that made the numbers (printed on top);
    ``notes``: how the numbers were made, one paragraph each (e.g. runs stopped at the record)."""
    out = Path(out)
    table = rows(outcomes, certified)
    md = [f"# {title}", "", provenance, "", *(line for note in notes for line in (note, "")), tally(table), "",
          "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += ["| " + " | ".join(r[c].replace("|", "/") for c in COLUMNS) + " |" for r in table]
    paths = [out / "summary.md", out / "summary.csv", out / "index.html"]
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=COLUMNS)
    w.writeheader()
    w.writerows(table)
    contents = ["\n".join(md) + "\n", text.getvalue(), _gallery(outcomes, table, title, provenance, notes)]
    for path, body in zip(paths, contents):
        replace_atomically(path, lambda f, b=body.encode("utf-8"): f.write(b))
    return paths


def _gallery(outcomes: Sequence[InstanceOutcome], table: list[dict[str, str]], title: str, provenance: str,
             notes: Sequence[str] = ()) -> str:
    esc = html.escape
    cards = []
    for o, r in zip(outcomes, table):
        picture = (f'<img src="{esc(o.png_path.name)}" alt="{esc(r["instance"])}" loading="eager">'
                   if o.png_path is not None else '<div class="none">no picture</div>')
        cls = r["verdict"].split(" ")[0] or "none"
        cards.append(
            f'<figure class="{esc(cls)}">{picture}<figcaption><b>{esc(r["instance"])}</b><br>'
            f'value {esc(r["value"] or "-")}<br>record {esc(r["record"] or "-")}<br>'
            f'gap {esc(r["relative gap"] or "-")} &middot; {esc(r["verdict"] or "no record")}'
            f'</figcaption></figure>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 1em; }}
figure {{ margin: 0; padding: .5em; border: 2px solid #ccc; border-radius: 6px; }}
figure.win {{ border-color: #2a2; }} figure.tie {{ border-color: #46c; }} figure.below {{ border-color: #c84; }}
img {{ width: 100%; height: auto; }} figcaption {{ font-size: .85em; }}
</style></head>
<body><h1>{esc(title)}</h1><p>{esc(provenance)}</p>{"".join(f"<p>{esc(note)}</p>" for note in notes)}<p>{esc(tally(table))}; <a href="summary.csv">summary.csv</a>,
<a href="summary.md">summary.md</a></p>
<main>
{chr(10).join(cards)}
</main></body></html>
"""


def provenance(command: str) -> str:
    """``"command: ...; date ...; commit ..."``: the commit of the extremo source tree when it is
    a git checkout, else the installed version."""
    import datetime
    import subprocess

    import extremo

    here = Path(extremo.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"`{command}`; {date}; commit {commit or 'unknown (extremo ' + getattr(extremo, '__version__', '?') + ')'}"
