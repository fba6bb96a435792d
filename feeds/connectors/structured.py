"""Shared by the connectors of structured sources (filings, breach lists): a record's place in
the document text, so its candidate quotes exactly what the source says."""

from __future__ import annotations


def object_span(text: str, anchor: int) -> tuple[int, int]:
    """[start, end) of the JSON object enclosing position `anchor` of `text` (braces matched,
    strings skipped), or a 200-character window around it if none encloses it."""
    depth, i, in_string = 0, anchor, False
    while i > 0:  # back to the unmatched "{" before anchor
        i -= 1
        ch = text[i]
        if ch == "}":
            depth += 1
        elif ch == "{":
            if depth == 0:
                break
            depth -= 1
    else:
        return max(0, anchor - 100), min(len(text), anchor + 100)
    start, depth, j = i, 0, i
    while j < len(text):
        ch = text[j]
        if in_string:
            if ch == "\\":
                j += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return start, j + 1
        j += 1
    return max(0, anchor - 100), min(len(text), anchor + 100)
