"""`whats-new.html`: the report as one self-contained page beside the interactive tree (no network, the trend
picture inlined). It renders the subset of Markdown that `whats_new_markdown` writes: headings, paragraphs,
tables, lists, code blocks, images, bold and inline code."""

from __future__ import annotations

import base64
import html
import re

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
STYLE = ("body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:1.5em auto;"
         "max-width:1100px;padding:0 1em;color:#1b1b1b}table{border-collapse:collapse;margin:.5em 0}"
         "td,th{border-bottom:1px solid #e3e3e3;padding:3px 8px;text-align:left;vertical-align:top}"
         "code,pre{background:#f4f4f4}pre{padding:.6em;overflow:auto}img{max-width:100%}")


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def markdown_page(markdown: str, title: str, images: dict[str, bytes]) -> str:
    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            body.append("<pre><code>" + html.escape("\n".join(lines[i + 1:end])) + "</code></pre>")
            i = end + 1
            continue
        heading = re.match(r"^(#{1,4}) (.*)$", line)
        image = re.match(r"^!\[([^\]]*)\]\(([^)]+)\)$", line)
        if heading:
            level = len(heading.group(1))
            body.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif image:
            data = images.get(image.group(2))
            if data is not None:
                uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
                body.append(f'<p><img alt="{html.escape(image.group(1))}" src="{uri}"></p>')
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            head, rest = _cells(rows[0]), [r for r in rows[1:] if not re.match(r"^\|(-+\|)+$", r)]
            body.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(r)) + "</tr>"
                                  for r in rest) + "</table>")
            continue
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
        i += 1
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
