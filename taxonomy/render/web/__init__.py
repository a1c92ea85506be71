"""The interactive map of the tree: one self-contained HTML file (vendored d3, inline data, no network)."""

from taxonomy.render.web.html import interactive_payload, render_html, write_html

__all__ = ["interactive_payload", "render_html", "write_html"]
