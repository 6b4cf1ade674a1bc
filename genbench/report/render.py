"""The report's two renderings of the same sections: report.md and index.html (sortable tables,
interactive charts where a section has them, every image captioned by its own run)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from genbench.report.tables import Table

LEGEND = "Mean ± standard deviation over seeds; ↓ lower is better, ↑ higher is better"


@dataclass
class Figure:
    title: str
    path: str  # the static PNG, relative to the report folder
    interactive: str | None = None  # an HTML chart shown in its place in index.html


def markdown(sections: list[dict[str, Any]], environment: dict[str, Any], counts: str) -> str:
    lines = ["# genbench report", "", f"{counts}. {LEGEND}; **bold**: best in its column.", ""]
    for section in sections:
        lines += [f"## {section['dataset']}", ""]
        for table in section["tables"]:
            lines += markdown_table(table)
        for figure in section["figures"] + section["grids"]:
            lines += [f"![{figure.title}]({figure.path})", "", f"*{figure.title}*", ""]
        lines += ["### Reproduce", ""]
        for variant, command, seeds in section["commands"]:
            lines.append(f"- {variant} (seeds {', '.join(map(str, seeds))}): `{command}`")
        lines.append("")
    lines += ["## Environment", ""]
    lines += [f"- versions: `{v}`" for v in environment["versions"]]
    lines += [f"- device: {d}" for d in environment["devices"]]
    return "\n".join(lines) + "\n"


def markdown_table(table: Table) -> list[str]:
    escape = str.maketrans({"|": "\\|"})
    lines = [
        f"### {table.title}",
        "",
        "| " + " | ".join(h.translate(escape) for h in table.header) + " |",
        "|" + "---|" * len(table.header),
    ]
    for row, marks in zip(table.rows, table.best, strict=True):
        cells = [f"**{t}**" if m else t for t, m in zip(row, marks, strict=True)]
        lines.append("| " + " | ".join(c.translate(escape) for c in cells) + " |")
    lines.append("")
    lines += [f"{note}  " for note in table.notes]
    lines += [f"- {definition}" for definition in table.definitions]
    return [*lines, ""]


STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:14px}.scroll{overflow-x:auto;"
    "max-width:100%}td,th{border:1px solid #ccc;padding:4px 6px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}th{cursor:pointer;"
    "background:#f5f5f5}.best{font-weight:bold;background:#e8f5e9}img{max-width:100%;"
    "border:1px solid #eee}figure{display:inline-block;margin:0.5em;vertical-align:top;"
    "max-width:100%}figure.chart{display:block}figcaption{font-size:90%;color:#333}"
    ".notes,.definitions{font-size:90%;color:#444}code{font-size:85%}"
)
# sorts a table by the clicked column (numbers by value, '-' last); click again to reverse
SORT = (
    "<script>document.querySelectorAll('table.sortable th').forEach(function (th, col) {"
    "th.title = 'sort'; th.addEventListener('click', function () {"
    "var body = th.closest('table').tBodies[0]; var up = th.dataset.up !== '1';"
    "th.dataset.up = up ? '1' : '0';"
    "var key = function (tr) { var t = tr.cells[col].textContent.trim();"
    "var n = parseFloat(t.replace(/,/g, '')); return isNaN(n) ? t : n; };"
    "Array.from(body.rows).sort(function (a, b) { var x = key(a), y = key(b);"
    "if (typeof x !== typeof y) { return typeof x === 'number' ? -1 : 1; }"
    "return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); })"
    ".forEach(function (tr) { body.appendChild(tr); }); }); });</script>"
)
# marks images that failed to load, and charts drawn, for readers and for the browser test
LOADED = (
    "<script>window.addEventListener('load', function () {"
    "var broken = Array.prototype.filter.call(document.images, function (i) {"
    "return !i.complete || i.naturalWidth === 0; });"
    "document.body.setAttribute('data-broken-images', broken.length);"
    "document.body.setAttribute('data-images', document.images.length);"
    "document.body.setAttribute('data-charts', document.querySelectorAll('.js-plotly-plot')"
    ".length); });</script>"
)


def page(
    sections: list[dict[str, Any]], environment: dict[str, Any], counts: str, script: str
) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>genbench report</title>",
        f"<style>{STYLE}</style><script src='{e(script)}'></script></head><body>",
        f"<h1>genbench report</h1><p>{e(counts)}. {e(LEGEND)}; "
        "<span class='best'>highlighted</span>: best in its column; click a header to sort.</p>",
    ]
    for section in sections:
        parts.append(f"<h2>{e(section['dataset'])}</h2>")
        parts += [table_html(table) for table in section["tables"]]
        parts += [figure_html(figure) for figure in section["figures"]]
        if section["grids"]:
            parts.append("<h3>Samples and reconstructions (first seed)</h3>")
            parts += [figure_html(figure) for figure in section["grids"]]
        parts.append("<h3>Reproduce</h3><ul>")
        for variant, command, seeds in section["commands"]:
            seed_list = ", ".join(map(str, seeds))
            parts.append(f"<li>{e(variant)} (seeds {seed_list}): <code>{e(command)}</code></li>")
        parts.append("</ul>")
    parts.append("<h2>Environment</h2><ul>")
    parts += [f"<li>versions: <code>{e(v)}</code></li>" for v in environment["versions"]]
    parts += [f"<li>device: {e(d)}</li>" for d in environment["devices"]]
    parts += ["</ul>", SORT, LOADED, "</body></html>"]
    return "\n".join(parts)


def table_html(table: Table) -> str:
    e = html.escape
    parts = [f"<h3>{e(table.title)}</h3><div class='scroll'><table class='sortable'><thead><tr>"]
    parts.append("".join(f"<th>{e(h)}</th>" for h in table.header) + "</tr></thead><tbody>")
    for row, marks in zip(table.rows, table.best, strict=True):
        cells = "".join(
            f"<td class='best'>{e(t)}</td>" if m else f"<td>{e(t)}</td>"
            for t, m in zip(row, marks, strict=True)
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table></div>")
    if table.notes:
        parts.append("<p class='notes'>" + "<br>".join(e(n) for n in table.notes) + "</p>")
    if table.definitions:
        items = "".join(f"<li>{e(d)}</li>" for d in table.definitions)
        parts.append(f"<ul class='definitions'>{items}</ul>")
    return "".join(parts)


def figure_html(figure: Figure) -> str:
    path, title = html.escape(figure.path), html.escape(figure.title)
    if figure.interactive:
        return (
            f"<figure class='chart'>{figure.interactive}<figcaption>{title} (interactive; "
            f"<a href='{path}'>static image</a>)</figcaption></figure>"
        )
    return f"<figure><img src='{path}' alt='{title}'><figcaption>{title}</figcaption></figure>"
