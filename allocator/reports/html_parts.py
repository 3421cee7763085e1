"""Parts of the HTML report besides the charts: the brief and find-my-area.

Find-my-area is a table of every area that a small inline script makes searchable and
sortable (the page's Content-Security-Policy allows that one script by its sha256 and
nothing else); without the script the table is still all there, in deprivation order.
"""

from __future__ import annotations

import base64
import hashlib
import html

import numpy as np
import pandas as pd

from allocator.format import money
from allocator.reports.brief import Brief
from allocator.reports.results import ReportData

MAX_AREAS = 40_000  # every English LSOA fits; beyond this the table says it is cut

SCRIPT = """(function(){
var box=document.getElementById('find-box'),table=document.getElementById('areas-table');
if(!box||!table)return;
var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),shown=document.getElementById('find-count');
function count(n){shown.textContent=n+' of '+rows.length+' areas shown';}
box.addEventListener('input',function(){
 var q=box.value.trim().toLowerCase(),n=0;
 rows.forEach(function(r){var hit=!q||r.getAttribute('data-key').indexOf(q)>=0;r.hidden=!hit;if(hit)n++;});
 count(n);});
Array.prototype.forEach.call(table.querySelectorAll('thead button'),function(b){
 b.addEventListener('click',function(){
  var th=b.parentNode,col=th.cellIndex,up=th.getAttribute('aria-sort')!=='ascending';
  Array.prototype.forEach.call(table.querySelectorAll('thead th'),function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',up?'ascending':'descending');
  var key=function(r){var c=r.cells[col],v=c.getAttribute('data-v');return v===null?c.textContent:parseFloat(v);};
  rows.sort(function(a,b){var x=key(a),y=key(b),o=(typeof x==='number'&&typeof y==='number')?x-y:
   String(x).localeCompare(String(y));return up?o:-o;});
  rows.forEach(function(r){body.appendChild(r);});});});
})();"""


def script_hash() -> str:
    """The CSP source that allows exactly `SCRIPT`."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode() + "'"


def esc(value) -> str:
    return html.escape(str(value), quote=True)


# -- the brief -----------------------------------------------------------------------------
def brief_section(b: Brief) -> str:
    """The brief as HTML: lead, verdict, one item per option, the table, the rules, notes."""
    parts = [f'<p class="lead">{esc(b.lead)}</p>']
    if b.verdict:
        parts.append('<div class="verdict">' + "".join(f"<p>{esc(v)}</p>" for v in b.verdict) + "</div>")
    parts.append('<ul class="options">' + "".join(
        f"<li><strong>{esc(name)}</strong>: {esc(says)}</li>" for name, says in b.options) + "</ul>")
    head = "".join(f'<th scope="col"{"" if i == 0 else " class=num"}>{esc(c)}</th>' for i, c in enumerate(b.columns))
    body = "".join("<tr>" + f'<th scope="row">{esc(r[0])}</th>' + "".join(
        f'<td class="num">{esc(c)}</td>' for c in r[1:]) + "</tr>" for r in b.rows)
    parts.append(f'<div class="table-wrap" tabindex="0"><table class="brief-table"><caption>The options in numbers '
                 f"(against 'before')</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
    parts.append('<h3 id="brief-rules">Rules that bind, and what they cost</h3><ul class="rules">' + "".join(
        f"<li><strong>{esc(name)}</strong>: {esc(text)}</li>" for name, text in b.rules) + "</ul>")
    if b.notes:
        parts.append('<p class="notes">' + " ".join(esc(n) for n in b.notes) + "</p>")
    return "\n".join(parts)


# -- maps ------------------------------------------------------------------------------------
def maps_section(data: ReportData) -> str | None:
    """Each option's choropleths by district (inline SVG), or the note saying why there are none."""
    from allocator.reports.maps import district_maps

    names = [str(o) for o in data.meta.get("options", [])]
    if "options_by_area" not in data.tables or not names:
        return None
    parts, notes = [], []
    for name in names:
        maps, note = district_maps(data, name)
        if note and note not in notes:
            notes.append(note)
        if maps and len(names) > 1:
            parts.append(f"<h3>{esc(name)}</h3>")
        for m in maps:
            parts.append(f'<figure class="map"><figcaption><strong>{esc(m.title)}</strong></figcaption>{m.svg}'
                         f"<figcaption>{esc(m.caption)}</figcaption></figure>")
    lead = "".join(f'<p class="notes">{esc(n)}</p>' for n in notes)
    return (lead + '<div class="maps">' + "\n".join(parts) + "</div>") if parts or notes else None


def map_pngs(data: ReportData) -> dict[str, bytes]:
    """The maps as PNG files by name (``maps/<key>.png``), for the output folder."""
    from allocator.reports.maps import district_maps

    out = {}
    for name in [str(o) for o in data.meta.get("options", [])]:
        if "options_by_area" in data.tables:
            for m in district_maps(data, name, png=True)[0]:
                out[f"maps/{m.key}.png"] = m.png
    return out


# -- find my area ----------------------------------------------------------------------------
def _columns(data: ReportData) -> tuple[list[str], pd.DataFrame] | None:
    frame = data.tables.get("options_by_area")
    names = [str(o) for o in data.meta.get("options", [])]
    if frame is None or frame.empty or not names:
        return None
    first = frame[frame["option"].astype(str) == names[0]].reset_index(drop=True)
    before = next((c for c in first.columns if c.endswith("_spend_gbp") and c not in ("spend_gbp",)
                   and not c.startswith(("fair_", "change"))), None)
    table = pd.DataFrame({"Area": first["area_name"].astype(str), "Code": first["area_id"].astype(str),
                          "Group": first["deprivation_group"], "Population": first["population"]})
    if before:
        table["Before"] = first[before].to_numpy(float)
    table["Fair share"] = first["fair_share_gbp"].to_numpy(float)
    for name in names:
        rows = frame[frame["option"].astype(str) == name].set_index("area_id").reindex(first["area_id"])
        label = name if len(names) > 1 else "Allocation"
        table[f"{label}"] = rows["spend_gbp"].to_numpy(float)
        table[f"{label}: change %"] = rows["change_pct"].to_numpy(float)
        table[f"{label}: from target %"] = (rows["distance_from_target_gbp"].to_numpy(float)
                                            / rows["fair_share_gbp"].to_numpy(float) * 100)
    return names, table


def _key(v: float) -> str:
    """A sort key to 7 significant figures, in plain decimals (the same from a saved folder)."""
    return np.format_float_positional(v, precision=7, unique=False, fractional=False, trim="-")


def _cell(column: str, value) -> str:
    if column in ("Area", "Code"):
        return f"<td>{esc(value)}</td>"
    v = float(value) if value is not None and pd.notna(value) else float("nan")
    if not np.isfinite(v):
        return '<td class="num">n/a</td>'
    if column == "Group":
        text = f"{v:.0f}"
    elif column == "Population":
        text = f"{v:,.0f}"
    elif column.endswith("%"):
        text = f"{v:+.1f}%" if round(v, 1) != 0 else "0.0%"
    else:
        text = money(v)
    return f'<td class="num" data-v="{_key(v)}">{esc(text)}</td>'


def find_my_area(data: ReportData) -> str | None:
    """Every area: its allocation under each option, the change and the distance from target."""
    got = _columns(data)
    if got is None:
        return None
    names, table = got
    cut = len(table) > MAX_AREAS
    table = table.sort_values(["Group", "Code"], kind="stable").head(MAX_AREAS)
    head = "".join(
        f'<th scope="col"{" class=num" if c not in ("Area", "Code") else ""}><button type="button">{esc(c)}'
        "</button></th>" for c in table.columns)
    rows = []
    for r in table.itertuples(index=False):
        key = esc(f"{r[0]} {r[1]}".lower())
        cells = "".join(_cell(c, v) for c, v in zip(table.columns, r))
        rows.append(f'<tr data-key="{key}">{cells}</tr>')
    note = (f" The first {MAX_AREAS:,} areas are shown; every area is in options_by_area.csv." if cut else "")
    return ('<p>Type part of an area\'s name or code to find it; select a column heading to sort. '
            "Money is the year's spend in the area; 'from target %' is the distance from the need-weighted "
            f"fair share, as NHS England reports it (negative: below target).{esc(note)}</p>"
            '<p><label for="find-box">Find an area</label> <input id="find-box" type="search" '
            'autocomplete="off" spellcheck="false"> <span id="find-count" role="status" aria-live="polite">'
            f"{len(table):,} areas</span></p>"
            f'<div class="table-wrap tall" tabindex="0"><table id="areas-table"><caption>Every area, in deprivation order '
            f"(group 1 most deprived)</caption><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows)
            + "\n</tbody></table></div>")
