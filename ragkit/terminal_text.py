"""Text made inert for a terminal: control and bidirectional-formatting characters shown as `\\uXXXX` escapes.

Documents and file names are untrusted. An ANSI escape sequence in a chunk would recolour, move the cursor or
retitle the terminal; a carriage return would overwrite the line before it; a right-to-left override in a file
name (`report\\u202etxt.exe`) would show it reversed. Newlines and tabs are kept (output is made of lines); every
other C0/C1 control, DEL, the bidi embeddings, overrides, isolates and marks, and the line/paragraph separators
are escaped. `\\uXXXX` is also a JSON string escape, so JSON output stays valid and decodes to the same text.
"""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")


def terminal_safe(text: str) -> str:
    """The text with every control and bidi character (except newline and tab) written as a visible `\\uXXXX`."""
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group(0)):04x}", text)
