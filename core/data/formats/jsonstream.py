"""Read a large JSON object one top-level member, or one array element, at a time.

`json.load` holds the whole document as Python objects at once, several times the file's size
for a COCO file, and far more for a file of `[{},{},...]`. `stream_object` keeps one chunk of
text plus the element being decoded: for each member of the top-level object it yields
`(key, None, value)`, except that a member whose value is an array yields `(key, i, element)`
for each element instead. The elements are decoded by the standard library's C scanner
(`JSONDecoder.raw_decode`).

Errors are DatasetError with the file name and the character offset: invalid JSON, a top level
that is not an object, invalid UTF-8, and nesting deeper than the scanner's recursion limit
(about 1,000 levels; `json.loads` would raise RecursionError).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from core.errors import DatasetError

CHUNK_BYTES = 4 * 1024 * 1024
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_TAIL = re.compile(r"[0-9eE.+\-]*")  # what may still follow a number cut at a chunk end
_RETRY_NEAR_END = 16  # a decode error this close to the buffer end may be a cut element


class _Reader:
    """A text buffer over a binary file, refilled in chunks; `pos` indexes the buffer."""

    def __init__(self, f: BinaryIO, name: str):
        self.f, self.name = f, name
        self.decode = codecs.getincrementaldecoder("utf-8-sig")(errors="strict").decode
        self.buf, self.pos, self.offset, self.eof = "", 0, 0, False
        self.scanner = json.JSONDecoder()

    def _more(self, at_least: int = 1) -> None:
        """Append at least `at_least` characters (or up to the end of the file)."""
        if self.pos > CHUNK_BYTES:  # drop what was consumed
            self.buf, self.offset, self.pos = self.buf[self.pos :], self.offset + self.pos, 0
        added = 0
        while added < at_least and not self.eof:
            data = self.f.read(max(CHUNK_BYTES, at_least))
            try:
                text = self.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise DatasetError(
                    f"{self.name}: not UTF-8 text near byte {exc.start} of a chunk"
                ) from exc
            self.eof = not data
            self.buf += text
            added += len(text)

    def fail(self, message: str) -> DatasetError:
        return DatasetError(f"{self.name}: {message} at character {self.offset + self.pos:,}")

    def peek(self) -> str:
        """The next non-whitespace character ('' at the end of the file), not consumed."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos : self.pos + 1]
            self._more()

    def expect(self, chars: str) -> str:
        found = self.peek()
        if not found or found not in chars:
            wanted = " or ".join(repr(c) for c in chars)
            what = repr(found) if found else "the end of the file"
            raise self.fail(f"invalid JSON: expected {wanted}, found {what}")
        self.pos += 1
        return found

    def value(self) -> Any:
        """Decode the JSON value at the current position (after `peek`)."""
        while True:
            try:
                obj, end = self.scanner.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(self.buf) - _RETRY_NEAR_END or exc.msg.startswith(
                    "Unterminated string"
                )
                if cut and not self.eof:
                    self._more(len(self.buf))
                    continue
                raise self.fail(f"invalid JSON ({exc.msg})") from None
            except RecursionError:
                raise self.fail("JSON nested too deeply (more than about 1,000 levels)") from None
            except ValueError as exc:  # an integer with more digits than Python converts
                raise self.fail(f"invalid JSON number ({exc})") from None
            if (
                not self.eof
                and not isinstance(obj, (dict, list, str))
                and _NUMBER_TAIL.fullmatch(self.buf, end)
            ):
                self._more(len(self.buf))  # a number or literal may go on in the next chunk
                continue
            self.pos = end
            return obj


def stream_object(f: BinaryIO, name: str) -> Iterator[tuple[str, int | None, Any]]:
    """Yield (key, None, value) per top-level member, or (key, i, element) per element of an
    array member (see the module docstring). `name` is used in error messages."""
    reader = _Reader(f, name)
    if reader.expect("{") and reader.peek() == "}":
        reader.pos += 1
    else:
        while True:
            if reader.peek() != '"':
                raise reader.fail("invalid JSON: expected a member name in double quotes")
            key = reader.value()
            reader.expect(":")
            if reader.peek() == "[":
                reader.pos += 1
                yield from _elements(reader, key)
            else:
                yield key, None, reader.value()
            if reader.expect(",}") == "}":
                break
    if reader.peek():
        raise reader.fail("invalid JSON: extra data after the top-level object")


def _elements(reader: _Reader, key: str) -> Iterator[tuple[str, int, Any]]:
    if reader.peek() == "]":
        reader.pos += 1
        return
    index = 0
    while True:
        reader.peek()
        yield key, index, reader.value()
        index += 1
        if reader.expect(",]") == "]":
            return
