"""A deliberately small HCL reader: top-level blocks and literal attributes.

ceap-tf needs three facts from an env's ``.tf`` files: which ``module`` calls use
``modules/workflow``, the workflow ``type`` passed to it, and which ``variable``
blocks exist. This reader finds blocks by brace matching (skipping strings,
heredocs and comments) and reads ``name = <expression>`` lines at the top level of
a block body. It is not a general HCL parser and does not try to be one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
_BLOCK_HEAD = re.compile(rf"({_IDENT})((?:\s+(?:\"[^\"\n]*\"|{_IDENT}))*)\s*\{{")
_LABEL = re.compile(rf"\"([^\"\n]*)\"|({_IDENT})")
_HEREDOC = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\n")


@dataclass(frozen=True)
class Block:
    type: str
    labels: tuple[str, ...]
    body: str


def _skip_string(text: str, i: int) -> int:
    """``text[i]`` is the opening quote; return the index after the closing quote."""
    i += 1
    depth = 0  # ${ ... } interpolation depth, which may itself contain strings
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if depth == 0 and ch == '"':
            return i + 1
        if text.startswith("${", i) or text.startswith("%{", i):
            depth += 1
            i += 2
            continue
        if depth and ch == "}":
            depth -= 1
        elif depth and ch == '"':
            i = _skip_string(text, i)
            continue
        i += 1
    return i


def _skip_literal(text: str, i: int) -> int | None:
    """If a string or a heredoc starts at ``text[i]``, the index just after it."""
    ch = text[i]
    if ch == '"':
        return _skip_string(text, i)
    if ch != "<" or (heredoc := _HEREDOC.match(text, i)) is None:
        return None
    marker = re.escape(heredoc.group(1))
    end = re.compile(rf"^\s*{marker}\s*$", re.MULTILINE).search(text, heredoc.end())
    return end.end() if end else len(text)


def strip_comments(text: str) -> str:
    """Blank out ``#``, ``//`` and ``/* */`` comments (offsets and strings are kept)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if (end := _skip_literal(text, i)) is not None:
            out.append(text[i:end])
            i = end
        elif ch == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            out.append("".join(c if c == "\n" else " " for c in text[i:end]))
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _matching_brace(text: str, open_index: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_index`` (comments already stripped)."""
    depth = 0
    i = open_index
    while i < len(text):
        ch = text[i]
        if (end := _skip_literal(text, i)) is not None:
            i = end
            continue
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced braces")


def blocks(text: str, block_type: str | None = None) -> Iterator[Block]:
    """Top-level blocks of ``text`` (optionally only one type), with labels and body."""
    clean = strip_comments(text)
    i = 0
    while i < len(clean):
        match = _BLOCK_HEAD.match(clean, i)
        if match is None or (i > 0 and clean[i - 1] not in "\n\r\t "):
            if (end := _skip_literal(clean, i)) is not None:
                i = end
            elif clean[i] in "{[(":
                i = _matching_brace(clean, i) + 1
            else:
                i += 1
            continue
        open_index = match.end() - 1
        close = _matching_brace(clean, open_index)
        labels = tuple(a or b for a, b in _LABEL.findall(match.group(2)))
        if block_type is None or match.group(1) == block_type:
            yield Block(match.group(1), labels, clean[open_index + 1 : close])
        i = close + 1


def attributes(body: str) -> dict[str, str]:
    """``name = expression`` pairs at the top level of a block body (raw expression text)."""
    found: dict[str, str] = {}
    depth = 0
    i = 0
    line_start = True
    while i < len(body):
        ch = body[i]
        if (end := _skip_literal(body, i)) is not None:
            i = end
            line_start = False
            continue
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "\n":
            line_start = True
            i += 1
            continue
        elif depth == 0 and line_start and not ch.isspace():
            match = re.compile(rf"({_IDENT})\s*=(?!=)\s*").match(body, i)
            if match:
                start = match.end()
                end = _expression_end(body, start)
                found[match.group(1)] = body[start:end].strip()
                i = end
                continue
            line_start = False
        i += 1
    return found


def _expression_end(body: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(body):
        ch = body[i]
        if (end := _skip_literal(body, i)) is not None:
            i = end
            continue
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "\n" and depth <= 0:
            return i
        i += 1
    return i


def string_literal(expression: str) -> str | None:
    """The value of a plain ``"..."`` literal without interpolation, else ``None``."""
    match = re.fullmatch(r'"((?:[^"\\$%]|\\.)*)"', expression.strip())
    return match.group(1) if match else None
