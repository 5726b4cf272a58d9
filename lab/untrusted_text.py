"""Untrusted text made inert where it is rendered: Markdown (and the HTML it becomes), Slack
mrkdwn, Discord Markdown and terminals.

Untrusted means anything the lab did not write itself: alert labels and annotations (anyone
with the intake token sends them), log lines, what a request or a model carried. Every rule
first drops what no reader should receive: control characters (ESC opens a terminal escape
sequence, the C1 byte 0x9b is one on its own) and the invisible format characters that
reorder or hide text (bidi overrides such as U+202E, zero-width characters). Then each
target gets its own escaping. HTML's is the standard library's; no maintained library
escapes CommonMark inline text or chat markup (markupsafe and html.escape cover HTML only),
so those rules are written out here from each format's reference. URLs are defanged
(`http[:]//evil[.]example`): Markdown renderers (GFM) and chat clients turn a bare URL into
a link, which escaping punctuation does not prevent.
"""

import html
import re

MARKDOWN_LIMIT = 500  # characters of one untrusted value in a Markdown document

_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# C0 but tab and newline, DEL, C1; soft hyphen; Arabic letter mark; Mongolian vowel
# separator; zero-width, LRM/RLM, bidi embeddings, overrides and isolates; invisible
# operators; byte-order mark; interlinear annotation marks.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb]"
)
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31})://([^\s/?#<>\[\]]*)")
_WWW = re.compile(r"(?i)\bwww\.([^\s/?#<>\[\]]*)")
# a heading, list item, setext underline or thematic break where a line starts
_BLOCK_START = re.compile(r"(?m)^([ \t]*)([-+=#]|\d{1,9}[.)](?=[ \t]|$))")
# CommonMark/GFM inline constructs: escapes, code, emphasis, links, tables, strikethrough
# (`<`, `>` and `&` become HTML entities instead: raw HTML, autolinks, block quotes)
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
# Discord's Markdown: the same, plus block quotes, spoilers and `<@id>` mentions
_DISCORD = re.compile(r"([\\`*_\[\]|~<>])")
# @everyone, @here, @channel, @name where a mention pings (not the @ of an e-mail address)
_AT = re.compile(r"(?<![\w.])@(?=\w)")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:#/=+-]{0,199}")


def plain(text: object, *, limit: int | None = None, one_line: bool = False) -> str:
    """The text without control or invisible format characters (tabs and newlines kept, or
    every run of whitespace made one space with `one_line`), cut to `limit` characters."""
    clean = _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", str(text)))
    if one_line:
        clean = " ".join(clean.split())
    if limit is not None and len(clean) > limit:
        clean = clean[: max(limit - 1, 0)] + "…"
    return clean


def quoted(text: object, *, limit: int = MARKDOWN_LIMIT) -> str:
    """One line in typographic quotes, marking words the lab did not write (quotes inside
    are made straight, so the text cannot close its own quote). Plain text: escape it for
    where it goes."""
    line = plain(text, limit=limit, one_line=True)
    return "“" + line.replace("“", '"').replace("”", '"') + "”"


def label(text: object, *, limit: int = 200) -> str:
    """An alert name or a service: as it is when it is a plain name, else quoted."""
    value = plain(text, limit=limit, one_line=True)
    return value if _IDENTIFIER.fullmatch(value) else quoted(value, limit=limit)


def defang(text: str) -> str:
    """URLs made unclickable but readable: `http[:]//evil[.]example/x`, `www[.]`."""

    def url(found: re.Match[str]) -> str:
        return f"{found.group(1)}[:]//{found.group(2).replace('.', '[.]')}"

    def www(found: re.Match[str]) -> str:
        return "www[.]" + found.group(1).replace(".", "[.]")

    return _WWW.sub(www, _URL.sub(url, text))


def _escape_block_starts(text: str) -> str:
    return _BLOCK_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}\\{m.group(2)[-1]}", text)


def markdown(text: object, *, limit: int = MARKDOWN_LIMIT) -> str:
    """One line of Markdown text that renders as exactly these characters: no HTML, link,
    heading, list, table, code or emphasis of its own; safe in a table cell."""
    line = defang(plain(text, limit=limit, one_line=True))
    return _escape_block_starts(_MARKDOWN.sub(r"\\\1", html.escape(line, quote=False)))


def markdown_code(text: object, *, limit: int = 200) -> str:
    """A name as a Markdown code span; anything that is not a plain name as escaped text
    (a code span keeps `<` raw for whoever reads the Markdown unrendered)."""
    value = plain(text, limit=limit, one_line=True)
    return f"`{value}`" if _IDENTIFIER.fullmatch(value) else markdown(value, limit=limit)


def slack(text: object, *, limit: int | None = None) -> str:
    """Text for Slack mrkdwn: `&`, `<`, `>` as entities (Slack's own escaping, so no
    `<!channel>`, `<@U123>` or `<url|label>` survives), mentions broken by a zero-width
    space, URLs defanged. Slack has no escape for `*_~` formatting, which is cosmetic."""
    escaped = html.escape(defang(plain(text, limit=limit)), quote=False)
    return _AT.sub("@\u200b", escaped)


def discord(text: object, *, limit: int | None = None) -> str:
    """Text for Discord Markdown: its markup backslash-escaped (`\\<@123>` shows, never
    pings), mentions broken by a zero-width space, URLs defanged."""
    escaped = _DISCORD.sub(r"\\\1", defang(plain(text, limit=limit)))
    return _AT.sub("@\u200b", _escape_block_starts(escaped))
