"""Reading a shell command the way bash will run it, with tree-sitter-bash.

Codex itself parses commands with tree-sitter-bash; so does this module, to
tell a policy what a command is made of. It is deliberately narrow: a
command is *plain* when it is made only of simple commands (a name and its
arguments, as literal words or quoted strings) joined by ``;``, ``&&``,
``||``, ``|``, ``|&``, ``&`` or newlines, with no redirection other than to
or from ``/dev/null``, a file read with ``<``, or a descriptor copy
(``2>&1``). Anything else is a reason for a person to look: command or
process substitution, backticks, variables, subshells, groups, functions,
control flow, here-documents, assignments, redirection into files, a parse
error, or any node this module does not know. Commands that run their
arguments as a command (``eval``, ``sh -c``, ``env``, ``xargs``, ``find
-exec``, …) are named so a policy can refuse them.

Pure: no I/O; the parser is made once per process.
"""

from __future__ import annotations

import itertools
import re
import shlex
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from tmux_codex.policy.indirect import indirection

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser

#: Node types a plain command may hold (named ones; anonymous tokens are checked apart).
_STRUCTURE = frozenset({"program", "list", "pipeline", "comment"})
_OPERATORS = frozenset({";", "&&", "||", "|", "|&", "&", "\n"})
_ARGUMENT = frozenset({"word", "number", "raw_string", "string", "concatenation"})
#: Characters that never stand unquoted in a plain word (bash would give them meaning
#: tree-sitter may not): expansions, substitutions, operators.
_UNSAFE_IN_WORD = frozenset("$`()<>|;&\n \t") | frozenset("*?[]{}~")
#: (the second set: globs, brace expansion, ``{NAME}>`` descriptors and tilde
#: expansion turn a word into other words, or a value of the environment; quoted,
#: each is a plain character.)
#: And in a command's name: globs too (``/bin/l?`` runs ``ls``).
_UNSAFE_IN_NAME = _UNSAFE_IN_WORD | frozenset("=")
#: Between the words of a simple command: at least one blank.
_WORD_GAP = re.compile(rb"[ \t]+")
_DIGITS = re.compile(r"[0-9]+")
#: Redirections a plain command may have: operator → where to.
_WRITES = frozenset({">", ">>", "&>", "&>>", ">|"})
_DUPS = frozenset({">&", "<&"})
NULL_DEVICE = "/dev/null"


@dataclass(frozen=True)
class Simple:
    """One simple command: its words as bash will pass them, and its text as written."""

    words: tuple[str, ...]
    text: str  # the command's own source text (without its redirections)

    @property
    def name(self) -> str:
        return self.words[0]

    @property
    def canonical(self) -> str:
        """The words, re-quoted the one standard way (``echo 'a b'``)."""
        return shlex.join(self.words)


@dataclass(frozen=True)
class Parsed:
    """A command read as shell: its simple commands, or why it is not plain."""

    commands: tuple[Simple, ...]
    problem: str | None  # None: plain; else one line for a person

    @property
    def plain(self) -> bool:
        return self.problem is None


class _NotPlain(Exception):
    pass


@lru_cache(maxsize=1)
def _language() -> Language:
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Language(tree_sitter_bash.language())


def _parser() -> Parser:
    """A new parser for each command: one reused across many inputs crashed the process
    (tree-sitter 0.26, tree-sitter-bash 0.25, after thousands of odd unicode inputs)."""
    import tree_sitter

    return tree_sitter.Parser(_language())


#: The command being read, as bytes: node texts come from here (see :func:`parse`).
_SOURCE: ContextVar[bytes] = ContextVar("_SOURCE", default=b"")


def _bytes(node: Node) -> bytes:
    return _SOURCE.get()[node.start_byte : node.end_byte]


def _text(node: Node) -> str:
    try:
        return _bytes(node).decode("utf-8")
    except UnicodeDecodeError:  # a node boundary inside a character: not plain
        raise _NotPlain("text it cannot read") from None


def _describe(node: Node) -> str:
    what = {
        "command_substitution": "a command substitution",
        "process_substitution": "a process substitution",
        "simple_expansion": "a variable",
        "expansion": "a variable",
        "arithmetic_expansion": "an arithmetic expansion",
        "subshell": "a subshell",
        "compound_statement": "a command group",
        "function_definition": "a function definition",
        "heredoc_redirect": "a here-document",
        "herestring_redirect": "a here-string",
        "variable_assignment": "a variable assignment",
        "variable_assignments": "a variable assignment",
        "declaration_command": "a declaration",
        "unset_command": "unset",
        "negated_command": "a negated command",
        "test_command": "a test command",
        "if_statement": "an if statement",
        "while_statement": "a loop",
        "for_statement": "a loop",
        "c_style_for_statement": "a loop",
        "case_statement": "a case statement",
        "ansi_c_string": "a $'…' string",
        "translated_string": 'a $"…" string',
    }.get(node.type, f"shell syntax it does not read ({node.type})")
    snippet = _text(node).replace("\n", " ")
    if len(snippet) > 60:
        snippet = snippet[:57] + "..."
    return f"{what}: {snippet}"


def _unquote_word(raw: str, unsafe: frozenset[str]) -> str:
    """A bare word as bash passes it: backslash escapes undone; refuse what bash expands."""
    out: list[str] = []
    escaped = False
    for char in raw:
        if escaped:
            if char != "\n":  # a backslash-newline is a line continuation
                out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in unsafe:
            raise _NotPlain(f"a word bash would expand or split: {raw}")
        else:
            out.append(char)
    if escaped:
        raise _NotPlain(f"a word that ends in a backslash: {raw}")
    return "".join(out)


def _string(node: Node) -> str:
    """A double-quoted string with no expansion or escape in it: what is between its quotes.

    Its own text, not its children's: tree-sitter leaves some characters (a
    newline) out of the ``string_content`` nodes.
    """
    for child in node.children:
        if child.type not in ('"', "string_content"):
            raise _NotPlain(_describe(child))
    raw = _text(node)
    inner = raw[1:-1]
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"' or any(c in inner for c in '$`\\"'):
        raise _NotPlain(f"a quoted string bash would expand: {raw}")
    return inner


def _argument(node: Node, unsafe: frozenset[str] = _UNSAFE_IN_WORD) -> str:
    kind = node.type
    if kind in ("word", "number"):
        return _unquote_word(_text(node), unsafe)
    if kind == "raw_string":
        raw = _text(node)
        if len(raw) < 2 or raw[0] != "'" or raw[-1] != "'":
            raise _NotPlain(f"a quoted string it cannot read: {raw}")
        return raw[1:-1]
    if kind == "string":
        return _string(node)
    if kind == "concatenation":
        _check_gaps(node, _NOTHING)
        return "".join(_argument(child, unsafe) for child in node.children)
    raise _NotPlain(_describe(node))


#: What may stand between the parts of one simple command or redirection: blanks.
_BLANKS = re.compile(rb"[ \t]*")
#: Between the commands of a list or pipeline: blanks and line breaks.
_SPACE = re.compile(rb"[ \t\n]*")
#: Between the parts of a word (``a'b'"c"``): nothing.
_NOTHING = re.compile(rb"")


def _check_gaps(node: Node, allowed: re.Pattern[bytes] = _BLANKS) -> None:
    """The node's children must cover its text, with only ``allowed`` between them.

    What lies between them is what tree-sitter skipped, and bash may not: it
    reads ``ls | ls\ntouch x`` as one command ``ls touch x`` where bash runs
    ``touch x``. Where the two could differ, a person looks.
    """
    source = _bytes(node)
    position = node.start_byte
    for child in node.children:
        gap = source[position - node.start_byte : child.start_byte - node.start_byte]
        if not allowed.fullmatch(gap):
            raise _NotPlain(f"text bash may read otherwise than it looks: {_text(node)}")
        position = child.end_byte
    if not allowed.fullmatch(source[position - node.start_byte :]):
        raise _NotPlain(f"text bash may read otherwise than it looks: {_text(node)}")


def _simple(node: Node) -> Simple:
    _check_gaps(node)
    # Every two parts apart: tree-sitter reads 'ls'\/x as two words, bash as one (ls/x).
    for before, after in itertools.pairwise(node.children):
        gap = _SOURCE.get()[before.end_byte : after.start_byte]
        if not _WORD_GAP.fullmatch(gap):
            raise _NotPlain(f"words bash may join or split otherwise: {_text(node)}")
    words: list[str] = []
    for child in node.children:
        if child.type == "command_name":
            _check_gaps(child, _NOTHING)
            if child.named_child_count != 1 or child.named_children[0].type not in _ARGUMENT:
                raise _NotPlain(
                    _describe(child.named_children[0] if child.named_children else child)
                )
            words.append(_argument(child.named_children[0], _UNSAFE_IN_NAME))
        elif child.type in _ARGUMENT:
            if not words:
                raise _NotPlain(_describe(child))
            words.append(_argument(child))
        elif child.type == "comment":
            continue
        else:
            raise _NotPlain(_describe(child))
    if not words or not words[0]:
        raise _NotPlain(f"a command without a name: {_text(node)}")
    text = _text(node)
    try:  # a second reading, by Python's shlex (POSIX rules), must give the same words
        again = tuple(shlex.split(text, comments=True))
    except ValueError:
        again = ()
    if again != tuple(words):
        raise _NotPlain(f"words that two readings of the shell disagree on: {text}")
    return Simple(tuple(words), text)


def _redirect(node: Node) -> None:
    """Only ``> /dev/null`` (and friends), ``< file`` and descriptor copies are plain."""
    if node.type != "file_redirect":
        raise _NotPlain(_describe(node))
    _check_gaps(node)
    operator = ""
    target: Node | None = None
    for child in node.children:
        if child.type == "file_descriptor":
            if not _DIGITS.fullmatch(_text(child)):  # bash: ASCII digits, or {NAME}
                raise _NotPlain(f"a redirection it cannot read: {_text(node)}")
            continue
        if not child.is_named:
            operator = child.type
        elif target is None:
            target = child
        else:
            raise _NotPlain(f"a redirection it cannot read: {_text(node)}")
    if target is None:
        raise _NotPlain(f"a redirection it cannot read: {_text(node)}")
    where = _argument(target)
    if operator in _DUPS:
        if where == "-" or _DIGITS.fullmatch(where):
            return
        raise _NotPlain(f"a redirection into a file: {_text(node)}")
    if operator == "<" and (where == NULL_DEVICE or not where.startswith("/dev/")):
        return  # reading a file runs nothing (bash's /dev/tcp/… would open a connection)
    if operator in _WRITES and where == NULL_DEVICE:
        return
    raise _NotPlain(f"a redirection into a file: {_text(node)}")


def _walk(node: Node, found: list[Simple]) -> None:
    kind = node.type
    if kind in _STRUCTURE:
        if kind != "comment":
            _check_gaps(node, _SPACE)
        for child in node.children:
            if child.is_named:
                _walk(child, found)
            elif child.type not in _OPERATORS:
                raise _NotPlain(f"shell syntax it does not read: {child.type!r}")
        return
    if kind == "command":
        found.append(_simple(node))
        return
    if kind == "redirected_statement":
        _check_gaps(node)
        body = node.child_by_field_name("body")
        # "ls 2>x" is a descriptor, "ls 2 >x" an argument: a redirection right after
        # the body (no blank) without a descriptor of its own could take the body's
        # last word for one; a person looks.
        after = [c for c in node.children if c != body]
        touching = body is not None and after and after[0].start_byte == body.end_byte
        if touching and (not after[0].children or after[0].children[0].type != "file_descriptor"):
            raise _NotPlain(f"a redirection bash may read otherwise: {_text(node)}")
        for child in node.children:
            if child == body:
                continue
            _redirect(child)
        if body is None or body.type not in ("command", "pipeline", "list"):
            raise _NotPlain(_describe(body if body is not None else node))
        _walk(body, found)
        return
    raise _NotPlain(_describe(node))


def parse(command: str) -> Parsed:
    """Read ``command`` as bash would: its simple commands, or why it is not plain."""
    control = next((c for c in command if _control(c)), None)
    if control is not None:
        # bash reads a CR, a form feed or an escape as part of a word, tree-sitter as a blank.
        return Parsed((), f"a control character ({control!r}) in the command")
    if "\\\n" in command:
        # bash joins the two lines into one word; tree-sitter reads two.
        return Parsed((), "a line continuation (a backslash at the end of a line)")
    if not command.strip():
        return Parsed((), "an empty command")
    try:
        source = command.encode("utf-8")
    except UnicodeEncodeError:
        return Parsed((), "text that is not UTF-8")
    # tree-sitter-bash 0.25 crashes, now and then, on some non-ASCII text. To bash
    # a byte of a non-ASCII character is a letter like any other: the parser
    # reads each as "a" (same offsets), the words are taken from the real bytes.
    masked = bytes(b if b < 0x80 else 0x61 for b in source)
    tree = _parser().parse(masked)
    root = tree.root_node
    if root.has_error:
        return Parsed((), "bash syntax it cannot read (a parse error)")
    outside = source[: root.start_byte] + source[root.end_byte :]
    if not _SPACE.fullmatch(outside):  # a leading "\ " tree-sitter skipped: bash's " ls"
        return Parsed((), "text outside the commands tree-sitter read")
    found: list[Simple] = []
    token = _SOURCE.set(source)
    try:
        _walk(root, found)
    except _NotPlain as exc:
        return Parsed((), str(exc))
    finally:
        _SOURCE.reset(token)
    if not found:
        return Parsed((), "no command in it")
    for simple in found:
        problem = indirection(simple.words, simple.text)
        if problem is not None:
            return Parsed(tuple(found), problem)
    return Parsed(tuple(found), None)


def _control(char: str) -> bool:
    """A control character other than newline and tab (C0, DEL, C1)."""
    code = ord(char)
    return (code < 0x20 and char not in "\n\t") or 0x7F <= code <= 0x9F
