"""What makes the report interactive offline: plotly.js and the page's data, each gzipped
and base64-encoded inside the HTML, unpacked in the browser with `DecompressionStream`
(no network: plotly.js is 4.8 MB raw, 1.4 MB gzipped), and the script that draws the
charts and the sortable, filterable table of utterances with coloured diffs.

Only two scripts ever run, both named by hash in the page's Content-Security-Policy
(`markup.policy`): `SCRIPT` (inline), and plotly.js, which `SCRIPT` unpacks and inserts as an
inline script element (no `eval`, which the policy forbids). The script builds table rows from
the data with `abEsc` on every value, the same escaping the server side does with `markup.h`;
the data's strings have their control, bidi and separator characters made visible before they
are packed (`markup.visible_data`, the escapes `markup.h` shows), so the script needs no escaper
of its own for them.
"""

from __future__ import annotations

import base64
import gzip
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson

from asyncbench.core.text import hidden
from asyncbench.reporting.analysis import Utterance
from asyncbench.reporting.markup import Markup, h, number, page, visible_data

#: how orjson writes a C0 control inside a string (`\u001b`, `\t`, `\r`, `\b`, `\f`; a
#: newline's `\n` is left out: `lines` keeps newlines). A literal backslash before a `t`
#: matches too, which only costs the walk below.
_JSON_C0 = re.compile(r"\\(?:u00[01]|[btfr])")


def data_json(data: Any) -> bytes:
    """`data` as JSON with every string as `markup.visible_data` shows it.

    Walking every word of every diff costs about a second per 500,000 words, and most reports
    have no control character at all; so the plain JSON is written first, and the walk is
    done only when that JSON might hold one: a raw character `core.text` makes visible (DEL,
    C1, bidi, separators), an escaped C0 control, or a lone surrogate (orjson refuses it)."""
    option = orjson.OPT_SERIALIZE_NUMPY
    try:
        plain = orjson.dumps(data, option=option)
    except TypeError:  # a lone surrogate: not UTF-8
        return orjson.dumps(visible_data(data), option=option)
    text = plain.decode()
    if hidden(text) or _JSON_C0.search(text):
        return orjson.dumps(visible_data(data), option=option)
    return plain


def pack(data: bytes) -> str:
    """gzip (mtime 0, so the same report is the same bytes), then base64."""
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode()


def unpack(text: str) -> bytes:
    """The inverse of `pack` (tests read the embedded data with it)."""
    return gzip.decompress(base64.b64decode(text.strip()))


@cache
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def payload(charts: dict[str, dict[str, Any]], rows: Sequence[Utterance]) -> dict[str, Any]:
    """The data the script reads: chart specs by div id, and the utterances compactly."""
    datasets = sorted({r.dataset for r in rows})
    models = list(dict.fromkeys(r.model for r in rows))
    di = {d: i for i, d in enumerate(datasets)}
    mi = {m: i for i, m in enumerate(models)}
    return {
        "charts": charts,
        "datasets": datasets,
        "models": models,
        "rows": [
            [di[r.dataset], mi[r.model], r.sample_id, r.wer, r.status, r.latency, r.alignment]
            for r in rows
        ],
    }


def diff_html(alignment: Sequence[Any]) -> Markup:
    """The same markup the script builds: S, I and D marked and coloured."""
    out = []
    for tok in alignment:
        if isinstance(tok, str):
            out.append(h("{}", tok))
        elif not tok[1]:
            out.append(h("<del class='D' title='deleted'>{}</del>", tok[0]))
        elif not tok[0]:
            out.append(h("<ins class='I' title='inserted'>{}</ins>", tok[1]))
        else:
            out.append(h("<span class='S' title='substituted'><s>{}</s> {}</span>", *tok))
    return Markup(" ").join(out)


def worst_html(worst: dict[tuple[str, str], list[Utterance]]) -> Markup:
    parts: list[Markup] = []
    for (dataset, model), rows in sorted(worst.items()):
        if not rows:
            continue
        parts.append(
            h(
                "<h3>{} · {}</h3><div class='wide'><table class='data worst'><tr><th>sample</th>"
                "<th>WER %</th><th>errors</th><th>diff</th></tr>",
                dataset,
                model,
            )
        )
        for r in rows:
            parts.append(
                h(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class='diff'>{}</td></tr>",
                    r.sample_id,
                    number(r.wer),
                    r.errors,
                    diff_html(r.alignment),
                )
            )
        parts.append(Markup("</table></div>"))
    return page(parts) or Markup("<p class='note'>No utterance has an error.</p>")


def substitutions_html(subs: dict[str, list[tuple[str, int]]]) -> Markup:
    parts = [Markup("<div class='cards'>")]
    for model, pairs in subs.items():
        parts.append(h("<div class='card'><h3>{}</h3><table class='subs'>", model))
        parts += [h("<tr><td>{}</td><td>{}</td></tr>", p, n) for p, n in pairs]
        if not pairs:
            parts.append(Markup("<tr><td>no substitution</td></tr>"))
        parts.append(Markup("</table></div>"))
    parts.append(Markup("</div>"))
    return page(parts)


TABLE_HTML = Markup("""
<div class='filters'>
<label>dataset <select id='f-dataset'><option value=''>all</option></select></label>
<label>model <select id='f-model'><option value=''>all</option></select></label>
<label>status <select id='f-status'><option value=''>all</option><option>ok</option>
<option>failed</option><option>skipped_short</option></select></label>
<label>search <input id='f-text' placeholder='sample id or word'></label>
<span id='row-count'></span></div>
<div class='wide tablebox'><table class='data' id='utterances'><thead><tr>
<th data-key='0'>dataset</th><th data-key='1'>model</th><th data-key='2'>sample</th>
<th data-key='3'>WER %</th><th data-key='4'>status</th><th data-key='5'>latency s</th>
<th>reference / hypothesis (<span class='S'>substitution</span>, <ins class='I'>insertion</ins>,
<del class='D'>deletion</del>)</th></tr></thead><tbody></tbody></table></div>
""")

CSS = """
.chart{width:100%;min-height:300px}.filters{display:flex;gap:14px;flex-wrap:wrap;margin:8px 0;
font-size:13px}.filters select{max-width:22em}.tablebox{max-height:640px;overflow:auto}
#utterances th[data-key]{cursor:pointer}
#utterances td.diff,table.worst td.diff,#utterances th:last-child{white-space:normal;
text-align:left;min-width:420px}
.S{background:#fde2b3}.S s{color:#a05a00}ins.I{background:#cdeccd;text-decoration:none}
del.D{background:#f8caca}#status{color:#a40}
"""

SCRIPT = r"""
async function abUnpack(id){
  const b = atob(document.getElementById(id).textContent.trim());
  const u = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
  const s = new Blob([u]).stream().pipeThrough(new DecompressionStream('gzip'));
  return await new Response(s).text();
}
function abEsc(t){return String(t).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;',
  '"':'&quot;',"'":'&#39;'}[c]));}
function abNum(x, digits){
  return typeof x === 'number' && isFinite(x) ? x.toFixed(digits) : (x === null ? '–' : abEsc(x));
}
function abDiff(a){
  return a.map(t=>{
    if (typeof t === 'string') return abEsc(t);
    if (!t[1]) return "<del class='D' title='deleted'>"+abEsc(t[0])+"</del>";
    if (!t[0]) return "<ins class='I' title='inserted'>"+abEsc(t[1])+"</ins>";
    return "<span class='S' title='substituted'><s>"+abEsc(t[0])+"</s> "+abEsc(t[1])+"</span>";
  }).join(' ');
}
function abTable(d){
  const body = document.querySelector('#utterances tbody');
  const fd = document.getElementById('f-dataset'), fm = document.getElementById('f-model');
  const fs = document.getElementById('f-status'), ft = document.getElementById('f-text');
  d.datasets.forEach((n,i)=>fd.add(new Option(n, String(i))));
  d.models.forEach((n,i)=>fm.add(new Option(n, String(i))));
  let key = null, dir = 1;
  function draw(){
    const q = ft.value.trim().toLowerCase();
    let rows = d.rows.filter(r =>
      (fd.value === '' || r[0] === +fd.value) && (fm.value === '' || r[1] === +fm.value) &&
      (fs.value === '' || r[4] === fs.value) &&
      (!q || String(r[2]).toLowerCase().includes(q) ||
       r[6].some(t => (typeof t === 'string' ? t : t.join(' ')).includes(q))));
    if (key !== null) {
      const name = k => k === 0 ? (r => d.datasets[r[0]]) : k === 1 ? (r => d.models[r[1]])
        : (r => r[k]);
      const get = name(key);
      rows = rows.slice().sort((a,b)=>{const x=get(a), y=get(b);
        if (x === y) return 0; if (x === null) return 1; if (y === null) return -1;
        return (x < y ? -1 : 1) * dir;});
    }
    body.innerHTML = rows.map(r => "<tr data-id='"+abEsc(r[2])+"'><td>"+abEsc(d.datasets[r[0]])+
      "</td><td>"+abEsc(d.models[r[1]])+"</td><td>"+abEsc(r[2])+"</td><td>"+
      abNum(r[3], 2)+"</td><td class='st-"+abEsc(r[4])+"'>"+abEsc(r[4])+
      "</td><td>"+abNum(r[5], 3)+"</td><td class='diff'>"+
      abDiff(r[6])+"</td></tr>").join('');
    document.getElementById('row-count').textContent =
      rows.length + ' of ' + d.rows.length + ' utterances';
  }
  [fd, fm, fs].forEach(el => el.addEventListener('change', draw));
  ft.addEventListener('input', draw);
  document.querySelectorAll('#utterances th[data-key]').forEach(th =>
    th.addEventListener('click', () => {const k = +th.dataset.key;
      dir = key === k ? -dir : 1; key = k; draw();}));
  draw();
}
(async () => {
  const status = document.getElementById('status');
  try {
    if (typeof DecompressionStream === 'undefined')
      throw new Error('this browser has no DecompressionStream ' +
        '(Chrome 80+, Firefox 113+, Safari 16.4+)');
    const data = JSON.parse(await abUnpack('report-data'));
    abTable(data);
    // an inline script element, allowed by its hash in the page's policy (eval is not)
    const lib = document.createElement('script');
    lib.textContent = await abUnpack('plotly-js');
    document.head.appendChild(lib);
    if (typeof Plotly === 'undefined') throw new Error('plotly.js did not load');
    for (const [id, spec] of Object.entries(data.charts)) {
      const el = document.getElementById(id);
      if (el) await Plotly.newPlot(el, spec.data, spec.layout, {responsive: true});
    }
    status.textContent = '';
  } catch (e) {
    status.textContent = 'cannot draw the interactive parts: ' + e;
  }
  document.body.dataset.ready = '1';
})();
"""


def script_sources() -> tuple[str, str]:
    """The text of every script the page runs, for the policy's hashes."""
    return SCRIPT, plotly_js()


def scripts(data: dict[str, Any]) -> Markup:
    """The two packed blobs (base64 only: nothing in them can close the element) and the
    script, for the end of the body. Every string of `data` is packed as `visible_data`
    shows it (`data_json`): this is where outside text leaves for the browser's side of the
    page."""
    return h(
        "<script type='application/octet-stream' id='report-data'>{}</script>"
        "<script type='application/octet-stream' id='plotly-js'>{}</script>"
        "<script>{}</script>",
        pack(data_json(data)),
        pack(plotly_js().encode()),
        Markup(SCRIPT),
    )
