"""The report's two renderings of the same sections: report.md and index.html."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any


@dataclass
class Figure:
    title: str
    path: str  # relative to the report folder


def markdown(sections: list[dict[str, Any]], environment: dict[str, Any], counts: str) -> str:
    lines = [
        "# genbench report",
        "",
        f"{counts}. Mean ± standard deviation over seeds; **bold**: best in its column.",
        "",
    ]
    for section in sections:
        lines += [f"## {section['dataset']}", ""]
        for title, header, rows, best in section["tables"]:
            lines += [
                f"### {title}",
                "",
                "| " + " | ".join(header) + " |",
                "|" + "---|" * len(header),
            ]
            for row, marks in zip(rows, best, strict=True):
                lines.append(
                    "| "
                    + " | ".join(f"**{t}**" if m else t for t, m in zip(row, marks, strict=True))
                    + " |"
                )
            lines.append("")
        for figure in section["figures"] + section["grids"]:
            lines += [f"![{figure.title}]({figure.path})", ""]
        lines += ["### Reproduce", ""]
        for variant, command, seeds in section["commands"]:
            lines.append(f"- {variant} (seeds {', '.join(map(str, seeds))}): `{command}`")
        lines.append("")
    lines += ["## Environment", ""]
    lines += [f"- versions: `{v}`" for v in environment["versions"]]
    lines += [f"- device: {d}" for d in environment["devices"]]
    return "\n".join(lines) + "\n"


def page(sections: list[dict[str, Any]], environment: dict[str, Any], counts: str) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>genbench report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:right}td:first-child,th:first-child{text-align:left}.best{font-weight:bold;"
        "background:#e8f5e9}img{max-width:100%;border:1px solid #eee}figure{display:inline-block;"
        "margin:0.5em;vertical-align:top}code{font-size:85%}</style></head><body>",
        f"<h1>genbench report</h1><p>{e(counts)}. Mean ± standard deviation over seeds; "
        "<span class='best'>highlighted</span>: best in its column.</p>",
    ]
    for section in sections:
        parts.append(f"<h2>{e(section['dataset'])}</h2>")
        for title, header, rows, best in section["tables"]:
            parts.append(f"<h3>{e(title)}</h3><table><thead><tr>")
            parts.append("".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>")
            for row, marks in zip(rows, best, strict=True):
                cells = "".join(
                    f"<td class='best'>{e(t)}</td>" if m else f"<td>{e(t)}</td>"
                    for t, m in zip(row, marks, strict=True)
                )
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</tbody></table>")
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
    parts.append("</ul>")
    # marks images that failed to load, for readers and for the browser test
    parts.append(
        "<script>window.addEventListener('load', function () {"
        "var broken = Array.prototype.filter.call(document.images, function (i) {"
        "return !i.complete || i.naturalWidth === 0; });"
        "document.body.setAttribute('data-broken-images', broken.length);"
        "document.body.setAttribute('data-images', document.images.length); });</script>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def figure_html(figure: Figure) -> str:
    path, title = html.escape(figure.path), html.escape(figure.title)
    return f"<figure><img src='{path}' alt='{title}'><figcaption>{title}</figcaption></figure>"
