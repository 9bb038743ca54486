"""Stage 1's inner loop: Lark's LALR tables and lexers, driven by one tight loop.

Lark builds the parse table, the contextual lexer (one scanner per parser
state, keywords told from names) and the tree builders from grammar/irmer.lark;
this module only runs them. Lark's own driver spends most of a parse in
per-token and per-reduction machinery (a generator per token, a line counter
object, the position propagation's filter called for every child, getattr with
defaults): over the 2024 file's 4,200 tokens and 5,100 reductions that was
three quarters of the stage. Here the same steps run inline.

It builds the same tree as ``Lark.parse`` (the same nodes, tokens and
positions, the `container_*` ones too): tests/test_parse_driver.py compares the
two on every shipped file and on mutated ones. Whenever it meets anything it
does not expect (a syntax error, a lexer or tree-builder setting it does not
know), it gives up and returns None, and the caller parses with Lark, which
raises its usual error, so diagnostics are Lark's as before.

>>> from evaluator.language.parse import parser
>>> driver = Driver(parser())
>>> tree = driver.parse('vocabulary "v"\\nfact age: duration\\n')
>>> str(tree.data), tree.meta.line, tree.meta.end_line
('start', 1, 2)
>>> driver.parse('vocabulary "v"\\nfact age duration\\n') is None  # a syntax error: Lark says what
True
"""

from __future__ import annotations

from functools import partial
from typing import Any

from lark import Lark, Token, Tree
from lark.tree import Meta
from lark.parse_tree_builder import ExpandSingleChild, PropagatePositions
from lark.parsers.lalr_analysis import Shift


class Driver:
    """Lark's tables for one grammar, laid out for the loop in :meth:`parse`."""

    def __init__(self, lark: Lark):
        frontend = lark.parser
        parser = frontend.parser.parser
        table = parser.parse_table
        self.ok = (lark.options.parser == "lalr" and lark.options.postlex is None
                   and not lark.options.maybe_placeholders and len(table.start_states) == 1
                   and type(frontend.lexer).__name__ == "ContextualLexer")
        if not self.ok:  # pragma: no cover - our grammar's settings: checked, not assumed
            return
        [start] = table.start_states
        self.start_state, self.end_state = table.start_states[start], table.end_states[start]
        # state -> {symbol: (is_shift, argument)}; a reduction's argument: (size, how, builder, origin name)
        rules: dict[Any, tuple] = {}
        self.states: dict[Any, dict[str, tuple]] = {}
        for state, actions in table.states.items():
            row = {}
            for symbol, (action, arg) in actions.items():
                if action is Shift:  # keys as plain str: a Token key compares slower (Token.__eq__)
                    row[str(symbol)] = (True, arg)
                else:
                    if arg not in rules:
                        rules[arg] = (len(arg.expansion), *_builder(parser.callbacks[arg]), str(arg.origin.name))
                    row[str(symbol)] = (False, rules[arg])
            self.states[state] = row
        if any(rule[2] is None for rule in rules.values()) or any(isinstance(k, str) for k in parser.callbacks):
            self.ok = False  # pragma: no cover - a tree builder or a token callback we do not know
            return
        # state -> (the scanner's match, keyword callbacks, ignored types, types that may hold a newline)
        self.lexers: dict[Any, tuple] = {}
        for state, lexer in frontend.lexer.lexers.items():
            scanner = lexer.scanner  # built on first use, with lexer.callback
            self.lexers[state] = (_matcher(tuple(scanner._mres)), dict(lexer.callback), lexer.ignore_types,
                                  lexer.newline_types)

    def parse(self, text: str) -> Tree | None:
        """The parse tree of `text`, or None where Lark must parse it (to raise its error)."""
        if not self.ok:  # pragma: no cover
            return None
        try:
            return self._parse(text)
        except _GiveUp:
            return None

    def _parse(self, text: str) -> Tree:
        states, lexers, end_state = self.states, self.lexers, self.end_state
        state_stack = [self.start_state]
        value_stack: list = []
        push_state, push_value = state_stack.append, value_stack.append
        pos, line, line_start, end = 0, 1, 0, len(text)
        new_token, tree = str.__new__, Tree
        token = None
        while True:
            # Lex one token in the context of the state on top of the stack (the contextual lexer).
            scan, callbacks, ignore, newline = lexers[state_stack[-1]]
            while True:
                if pos >= end:
                    token = None
                    break
                match = scan(text, pos)
                if match is None:
                    raise _GiveUp
                value, kind = match.group(0), match.lastgroup
                start, start_line, column = pos, line, pos - line_start + 1
                pos += len(value)
                if kind in newline:
                    count = value.count("\n")
                    if count:
                        line += count
                        line_start = start + value.rindex("\n") + 1
                if kind in ignore:
                    if kind in callbacks:  # pragma: no cover - no ignored terminal of ours has one
                        raise _GiveUp
                    continue
                token = new_token(Token, value)
                token.type, token.value, token.start_pos, token.line, token.column = kind, value, start, start_line, \
                    column
                token.end_line, token.end_column, token.end_pos = line, pos - line_start + 1, pos
                if kind in callbacks:
                    token = callbacks[kind](token)
                break
            if token is None:
                break
            # Feed it: reduce as the table says, then shift it.
            kind = token.type
            while True:
                try:
                    is_shift, arg = states[state_stack[-1]][kind]
                except KeyError:
                    raise _GiveUp from None
                if is_shift:
                    push_state(arg)
                    push_value(token)
                    break
                size, how, builder, origin = arg  # a reduction, inline (_reduce)
                if size:
                    children = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    children = []
                if how is _TREE or (how is _SINGLE and size != 1):
                    value = tree(builder, children, _meta_of(children))
                elif how is _SINGLE:
                    value = children[0]  # a `?rule` of one child passes it up; its container is its own
                else:
                    value = builder(children)
                    if type(value) is Tree:
                        _positions(value, children)
                push_state(states[state_stack[-1]][origin][1])
                push_value(value)
        # The end: reduce until the start rule is complete.
        while True:
            try:
                is_shift, arg = states[state_stack[-1]]["$END"]
            except KeyError:
                raise _GiveUp from None
            if is_shift:  # pragma: no cover - Lark asserts this cannot happen
                raise _GiveUp
            _reduce(arg, state_stack, value_stack, states)
            if state_stack[-1] == end_state:
                return value_stack[-1]


def _matcher(mres: tuple) -> Any:
    """A scanner's match: its one regular expression's (as for every state of ours), or the first of its
    several that matches (Lark splits a scanner of more than 100 terminals)."""
    if len(mres) == 1:
        return mres[0].match

    def match(text: str, pos: int) -> Any:  # pragma: no cover - no scanner of ours has two
        for mre in mres:
            found = mre.match(text, pos)
            if found:
                return found
        return None
    return match


class _GiveUp(Exception):
    """Lark parses this text (and raises its error)."""


def _reduce(rule: tuple, state_stack: list, value_stack: list, states: dict) -> None:
    size, how, builder, origin = rule
    if size:
        children = value_stack[-size:]
        del state_stack[-size:]
        del value_stack[-size:]
    else:
        children = []
    if how is _TREE or (how is _SINGLE and size != 1):
        value = Tree(builder, children, _meta_of(children))
    elif how is _SINGLE:
        value = children[0]
    else:
        value = builder(children)
        if type(value) is Tree:
            _positions(value, children)
    is_shift, target = states[state_stack[-1]][origin]
    state_stack.append(target)
    value_stack.append(value)


# How a reduction builds its value: a tree of its children (the builder is the rule's name); the same,
# except that one child is passed up as it is (a `?rule`); or with Lark's own builder (children filtered).
_TREE, _SINGLE, _LARK = "tree", "single", "lark"


def _builder(callback: Any) -> tuple[str, Any]:
    """How to build a rule's value, from the tree builder inside Lark's position propagation.

    The two simplest builders, which most reductions use, are done inline;
    any other is called as Lark built it. (how, None) when the propagation is
    not the one we reproduce.
    """
    if type(callback) is not PropagatePositions or getattr(callback.node_filter, "__name__", "") != "_spans_text":
        return _LARK, None  # pragma: no cover
    inner = callback.node_builder
    if type(inner) is ExpandSingleChild:
        plain = inner.node_builder
        if type(plain) is partial and plain.func is Tree and len(plain.args) == 1 and not plain.keywords:
            return _SINGLE, plain.args[0]
    elif type(inner) is partial and inner.func is Tree and len(inner.args) == 1 and not inner.keywords:
        return _TREE, inner.args[0]
    return _LARK, inner


def _meta_of(children: list) -> Meta:
    """The meta of a node the builder has just made of these children: _positions for a new node, in one
    step (its fields set at once, not one by one: this runs for every node of the tree)."""
    for child in children:
        if type(child) is Token:
            if child.type != "_NL":
                line, column, start = child.line, child.column, child.start_pos
                break
        else:
            first = child._meta
            if not first.empty:
                line, column, start = first.container_line, first.container_column, first.container_start_pos
                break
    else:
        return Meta()  # no child takes up text: an empty meta, as Lark leaves it
    for child in reversed(children):
        if type(child) is Token:
            if child.type != "_NL":
                end_line, end_column, stop = child.end_line, child.end_column, child.end_pos
                break
        else:
            last = child._meta
            if not last.empty:
                end_line, end_column, stop = last.container_end_line, last.container_end_column, \
                    last.container_end_pos
                break
    meta = new_meta(Meta)
    meta.__dict__ = {"empty": False, "line": line, "column": column, "start_pos": start,
                     "container_line": line, "container_column": column, "container_start_pos": start,
                     "end_line": end_line, "end_column": end_column, "end_pos": stop,
                     "container_end_line": end_line, "container_end_column": end_column,
                     "container_end_pos": stop}
    return meta


new_meta = object.__new__


def _positions(tree: Tree, children: list) -> None:
    """Lark's PropagatePositions with parse.py's filter (newline tokens take no part), inline.

    A node starts where its first child's container starts and ends where its
    last one's ends; a container is the text of a node, with what was filtered
    or inlined around it (the brackets of `( expr )`). Every non-empty meta here
    has its container fields, so they are read without defaults. A node the
    builder made now has no meta yet; one it passed up from its children (a
    `?rule` of one child) has, and only its container grows.
    """
    meta = tree._meta
    fresh = meta is None
    if fresh:
        meta = tree._meta = Meta()
    elif len(children) == 1:  # the child itself, passed up: its container is already its own
        return
    for child in children:
        if type(child) is Token:
            if child.type == "_NL":
                continue
            line, column, start = child.line, child.column, child.start_pos
        else:
            first = child._meta
            if first.empty:
                continue
            line, column, start = first.container_line, first.container_column, first.container_start_pos
        if fresh:
            meta.line, meta.column, meta.start_pos = line, column, start
            meta.empty = False
        meta.container_line, meta.container_column, meta.container_start_pos = line, column, start
        break
    else:
        return
    for child in reversed(children):
        if type(child) is Token:
            if child.type == "_NL":
                continue
            line, column, stop = child.end_line, child.end_column, child.end_pos
        else:
            last = child._meta
            if last.empty:
                continue
            line, column, stop = last.container_end_line, last.container_end_column, last.container_end_pos
        if fresh:
            meta.end_line, meta.end_column, meta.end_pos = line, column, stop
        meta.container_end_line, meta.container_end_column, meta.container_end_pos = line, column, stop
        break
