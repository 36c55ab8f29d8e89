"""Progress or a repaint? What a task's new bytes draw that it has not drawn lately.

Codex draws the same things again and again without doing anything: the
``• Working (43s • esc to interrupt)`` line every second while its model is
silent, and its whole screen (the transcript, re-wrapped to the new width,
long paths shortened with ``…``) whenever a client attaches or the window is
resized. None of that is progress. A task progresses when it draws a word
that is neither a piece of the live status line (:func:`output.drawn_words`)
nor among what it drew lately: streamed text, a tool's output, a counter that
moves.

"Lately" is bounded per task: the words of the last few thousand distinct
ones (in two generations, so the oldest go first), and the last
stretch of text, in which a piece of a word (a line re-wrapped mid-word, a
path cut short) is looked up, and the same text without its spaces, in which
a word is found that the renderer drew in pieces before (``Fak`` then ``e``,
changed cells only) and now draws whole. The words of a window title the
task sets are known at once: Codex 0.171 draws the thread's title in its
footer too, and a title is not progress. Pure: no I/O.
"""

from __future__ import annotations

import re

from tmux_codex.codex.output import drawn_tokens
from tmux_codex.codex.patterns import Patterns

#: Distinct words remembered per generation (two generations are kept).
WORDS = 4096
#: Characters of recent text kept for looking up pieces of words.
TEXT = 32768
#: Bytes held back at most when a read ends inside an escape sequence.
MAX_HOLD = 4096

_ESCAPE_DONE = re.compile(
    rb"\x1b(?:\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC, terminated
    rb"|[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC, terminated
    rb"|[ -/]*(?![\[\]PX^_])[0-~])"  # others (not the start of one of the above)
)


#: A window title set by the program (OSC 0 or 2), which Codex 0.171 also draws in its
#: footer (the thread's title, cut to the width): known before it is drawn.
_TITLE = re.compile(rb"\x1b\][02];([^\x07\x1b]*)(?:\x07|\x1b\\)")


def _split_complete(data: bytes) -> tuple[bytes, bytes]:
    """``data`` up to where a read cut an escape sequence or a UTF-8 character; the rest."""
    cut = data.rfind(b"\x1b", max(len(data) - MAX_HOLD, 0))
    if cut >= 0 and _ESCAPE_DONE.match(data, cut) is None:
        return data[:cut], data[cut:]
    for back in range(1, min(4, len(data) + 1)):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for the lead
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
        if byte & 0xC0 == 0xC0 and back < need:
            return data[:-back], data[-back:]
        break
    return data, b""


class Seen:
    """What one task drew lately; :meth:`weigh` says whether new bytes add to it."""

    def __init__(self, words: int = WORDS, text: int = TEXT) -> None:
        self.words = words
        self.text = text
        self._current: set[str] = set()
        self._previous: set[str] = set()
        self._recent = ""
        self._joined = ""  # the same, without the spaces: a word drawn in pieces
        self._hold = b""

    def weigh(self, data: bytes, patterns: Patterns | None = None) -> bool:
        """Remember what ``data`` draws; whether it drew a word not drawn lately."""
        whole, self._hold = _split_complete(self._hold + data)
        if len(self._hold) > MAX_HOLD:
            self._hold = b""
        self._learn_titles(whole)
        tokens, words = drawn_tokens(whole, patterns)
        if not words:
            self._join(tokens)
            return False
        fresh = set(words) - self._current  # most words of a busy task are known
        new = False
        for word in fresh:
            # Once one word is new the rest need not be looked up in the text.
            if (
                not new
                and word not in self._previous
                and word not in self._recent
                and word not in self._joined
            ):
                new = True
            if len(self._current) >= self.words:
                self._previous, self._current = self._current, set()
            self._current.add(word)
        self._recent = (self._recent + " " + " ".join(words))[-self.text :]
        self._join(tokens)
        return new

    def _join(self, tokens: list[str]) -> None:
        self._joined = (self._joined + "".join(tokens))[-self.text :]

    def _learn_titles(self, data: bytes) -> None:
        """Words of the window titles in ``data``: known, not progress, when drawn."""
        for title in _TITLE.findall(data):
            words = title.decode("utf-8", "replace").split()
            if words:
                if len(self._current) >= self.words:
                    self._previous, self._current = self._current, set()
                self._current.update(words)
                self._recent = (self._recent + " " + " ".join(words))[-self.text :]
                self._joined = (self._joined + "".join(words))[-self.text :]
