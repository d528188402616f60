"""Python source as HTML with coloured spans, offline: :mod:`tokenize`, no library.

Every character of the source is kept and escaped; text that does not tokenize
(a bundle's source may be anything) is shown plain.
"""

from __future__ import annotations

import html
import io
import keyword
import tokenize

#: CSS for the classes :func:`highlight_python` emits.
HIGHLIGHT_STYLE = """
.src{background:#f8f8f8;padding:.6rem;overflow-x:auto;white-space:pre;font-size:.85rem}
.src .k{color:#00f;font-weight:600} .src .s{color:#a31515} .src .c{color:#008000;
font-style:italic} .src .n{color:#098658} .src .d{color:#795e26} .src .b{color:#267f99}
"""

_BUILTINS = frozenset({"self", "cls", "True", "False", "None", "print", "len", "dict",
                       "list", "int", "float", "str"})


def _kind(tok: tokenize.TokenInfo, previous: str) -> str | None:
    if tok.type == tokenize.NAME:
        if keyword.iskeyword(tok.string) and tok.string not in ("True", "False", "None"):
            return "k"
        if previous in ("def", "class") or tok.string.startswith("@"):
            return "d"
        return "b" if tok.string in _BUILTINS else None
    if tok.type == tokenize.STRING or tok.type in _FSTRING:
        return "s"
    if tok.type == tokenize.COMMENT:
        return "c"
    if tok.type == tokenize.NUMBER:
        return "n"
    if tok.type == tokenize.OP and tok.string == "@":
        return "d"
    return None


_FSTRING = {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
            if hasattr(tokenize, n)}


def highlight_python(source: str) -> str:
    """``source`` as escaped HTML with ``<span class=k|s|c|n|d|b>`` around tokens."""
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    out: list[str] = []
    pos, previous = 0, ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            (srow, scol), (erow, ecol) = tok.start, tok.end
            start = offsets[srow - 1] + scol if srow - 1 < len(offsets) else len(source)
            end = offsets[erow - 1] + ecol if erow - 1 < len(offsets) else len(source)
            if start < pos:
                continue
            out.append(html.escape(source[pos:start]))
            kind = _kind(tok, previous)
            text = html.escape(source[start:end])
            out.append(f'<span class="{kind}">{text}</span>' if kind else text)
            pos = end
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT):
                previous = tok.string
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # the rest is shown as plain text
    out.append(html.escape(source[pos:]))
    return "".join(out)
