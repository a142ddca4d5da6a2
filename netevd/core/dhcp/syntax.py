"""The ISC dhclient lease file's syntax: tokens and a tree of statements (pure, never raises).

The file is a sequence of statements. A statement is words (bare words, quoted strings and
commas) ended by ``;``, or words followed by a ``{ ... }`` block of statements::

    lease {
      interface "eth0";
      option domain-name-servers 10.0.0.53,10.0.0.54;
      expire 4 2026/11/26 07:21:47;
    }

``#`` starts a comment outside strings. Strings are written by dhclient's ``pretty_escape``:
``\\"``, ``\\\\``, ``\\$`` ... for a few characters and ``\\NNN`` (octal) for bytes that are not
printable ASCII. dhclient writes one statement a line, and a statement or a ``}`` that does not
begin its line is refused: dhclient does not escape the interface name, and a name holding a
quote (Linux allows ``x";z"``) would otherwise close its string early and name another link.
(A comment after a statement is noted, for the same reason: see ``Statement.comment_after``.)

What this module cannot read it reports as a :class:`Problem` and skips: a broken block is
abandoned up to the next ``lease``/``lease6`` at the start of a line, so one bad block (a crash
mid-write, a hostile byte) costs only that block. Text that ends inside a block makes the
result *incomplete*: the writer was probably still writing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_DEPTH = 4  # lease6 { ia-na { iaaddr { option } } } is as deep as dhclient goes
MAX_WORDS = 512  # words in one statement: a DNS list of a few dozen servers fits easily
BLOCK_WORDS = ("lease", "lease6")

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\[^\n])*")
  | (?P<punct>[{};,])
  | (?P<word>[^\s{};,"\#\\]+)
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\([0-7]{3}|.)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "word" | "string" | "punct" | "bad"
    text: str  # strings: unescaped, without the quotes
    line: int
    first: bool  # first token on its line (where dhclient starts a block)
    escaped: bool = False  # a string that held a backslash escape


@dataclass(frozen=True, slots=True)
class Statement:
    words: tuple[Token, ...]
    body: tuple[Statement, ...] | None  # None: ended by ";"
    line: int
    comment_after: bool = False  # a comment follows the ";" on the same line

    @property
    def keyword(self) -> str:
        """The first word, or "" when the statement starts with a string or comma."""
        return self.words[0].text if self.words and self.words[0].kind == "word" else ""


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    kind: str  # syntax | truncated | nesting | unknown | invalid
    detail: str


def unescape(body: str) -> str:
    """dhclient's string escapes undone: ``\\NNN`` is a byte (octal), ``\\x`` is ``x``."""

    def one(match: re.Match[str]) -> str:
        text = match.group(1)
        return chr(int(text, 8) & 0xFF) if len(text) == 3 else text

    return _ESCAPE.sub(one, body)


def tokens(text: str) -> Iterator[Token]:
    line, first = 1, True
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "bad"
        if kind == "newline":
            line, first = line + 1, True
            continue
        if kind == "space":
            continue
        value = match.group()
        escaped = kind == "string" and "\\" in value
        if kind == "string":
            value = unescape(value[1:-1])
        yield Token(kind, value, line, first, escaped)
        first = False


class _Bad(Exception):
    def __init__(self, line: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = Problem(line, kind, detail)


class _Truncated(Exception):
    pass


class _Restart(Exception):
    """A new top-level block starts inside an unfinished one (its writer stopped mid-block)."""


class _Reader:
    def __init__(self, text: str) -> None:
        self._tokens = tokens(text)
        self._ahead: Token | None = None
        self._done = False

    def peek(self) -> Token | None:
        """The next token that is not a comment."""
        while (token := self.peek_raw()) is not None and token.kind == "comment":
            self._ahead = None
        return token

    def peek_raw(self) -> Token | None:
        if self._ahead is None and not self._done:
            self._ahead = next(self._tokens, None)
            self._done = self._ahead is None
        return self._ahead

    def comment_follows(self) -> bool:
        """Whether a comment comes next on the current line."""
        token = self.peek_raw()
        return token is not None and token.kind == "comment" and not token.first

    def take(self) -> Token | None:
        token = self.peek()
        self._ahead = None
        return token

    def skip_to_block_start(self) -> None:
        """Drop tokens up to the next ``lease``/``lease6`` that begins a line."""
        while (token := self.peek()) is not None:
            if token.first and _starts_block(token):
                return
            self.take()


def statements(text: str) -> tuple[tuple[Statement, ...], tuple[Problem, ...], bool]:
    """The top-level statements of *text*, the problems met, and whether the text is complete."""
    reader = _Reader(text)
    found: list[Statement] = []
    problems: list[Problem] = []
    while (token := reader.peek()) is not None:
        if token.kind == "punct" and token.text in "};":
            reader.take()
            problems.append(Problem(token.line, "syntax", f"stray {token.text!r}"))
            continue
        try:
            found.append(_statement(reader, 0))
        except _Bad as exc:  # the offending token is consumed: this always makes progress
            problems.append(exc.problem)
            reader.skip_to_block_start()
        except _Restart:
            problems.append(Problem(token.line, "truncated", "block ends without '}'"))
        except _Truncated:
            problems.append(Problem(token.line, "truncated", "text ends inside a statement"))
            return tuple(found), tuple(problems), False
    return tuple(found), tuple(problems), True


def _statement(reader: _Reader, depth: int) -> Statement:
    words: list[Token] = []
    start = reader.peek()
    line = start.line if start is not None else 0
    while (token := reader.peek()) is not None:
        if depth and not words and token.first and _starts_block(token):
            raise _Restart
        reader.take()
        if not words and not token.first:
            # dhclient writes one statement a line and does not escape the interface name:
            # a name like  x";z"  would otherwise end its string early and spoof "x".
            raise _Bad(token.line, "syntax", "a statement starts in the middle of a line")
        if token.kind == "bad":
            raise _Bad(token.line, "syntax", f"unexpected character {token.text!r}")
        if token.kind != "punct" or token.text == ",":
            words.append(token)
            if len(words) > MAX_WORDS:
                raise _Bad(line, "syntax", f"statement longer than {MAX_WORDS} words")
        elif token.text == ";":
            return Statement(tuple(words), None, line, reader.comment_follows())
        elif token.text == "{":
            if depth + 1 >= MAX_DEPTH:
                raise _Bad(token.line, "nesting", f"blocks nested deeper than {MAX_DEPTH}")
            return Statement(tuple(words), _block(reader, depth + 1), line)
        else:
            raise _Bad(token.line, "syntax", "'}' where a statement should end with ';'")
    raise _Truncated


def _block(reader: _Reader, depth: int) -> tuple[Statement, ...]:
    body: list[Statement] = []
    while (token := reader.peek()) is not None:
        if token.kind == "punct" and token.text == "}":
            reader.take()
            if not token.first:
                raise _Bad(token.line, "syntax", "a block ends in the middle of a line")
            return tuple(body)
        if token.kind == "punct" and token.text == ";":
            reader.take()  # an empty statement: harmless
            continue
        body.append(_statement(reader, depth))
    raise _Truncated


def _starts_block(token: Token) -> bool:
    return token.kind == "word" and token.text in BLOCK_WORDS
