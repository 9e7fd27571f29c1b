"""Reading the DAG pictures the pages show: SVG images (drawn by `dot` on the server) sent as data URLs."""

from __future__ import annotations

import base64
import html
import re

SVG_DATA_URL = "data:image/svg+xml;base64,"


def svg_of(data_url: str) -> str:
    """The SVG document of an image's data URL (AssertionError for any other kind of image)."""
    assert data_url.startswith(SVG_DATA_URL), data_url[:60]
    return base64.b64decode(data_url[len(SVG_DATA_URL):]).decode("utf-8")


def svg_text(data_url: str) -> str:
    """The words drawn in the picture, one text element per line."""
    return "\n".join(html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg_of(data_url)))
