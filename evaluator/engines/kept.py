"""Values kept by key, bounded: what the engines work out once and meet again.

The compiled engine keeps three-valued verdicts, the answers of a split and the
outcomes of a judgement's other value by the values of the facts they read;
its reader keeps what each dose and date text reads as; the interpreter keeps
the verdicts it explains. Each store is a `Kept`: a dict, read with its own
`get`, that holds at most `limit` entries. When full it is emptied, and what
comes back often is soon kept again: no bookkeeping of use on the hot path.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

LIMIT = 4096  # the most entries a store holds, unless it says otherwise


class Kept(dict):
    """A dict of at most `limit` entries: `put` empties it first when it is full.

    >>> kept = Kept(limit=2)
    >>> kept.put("a", 1), kept.put("b", 2), kept.put("c", 3), sorted(kept)
    (1, 2, 3, ['c'])
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int = LIMIT):
        super().__init__()
        self.limit = limit

    def put(self, key: Any, value: Any) -> Any:
        """Keep `value` under `key`, and give it back."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


def by_values(kept: Kept, facts: Sequence[str], get: Callable[[str], Any], work: Callable[..., Any],
              *args: Any) -> Any:
    """What `work(*args)` gives, kept in `kept` by the values (`get`) of the facts it depends on: worked out
    once for each (the arguments are passed, not closed over: no function is made for a call that finds its
    value). Without facts (what it depends on is not known), or with a value that cannot be a key, it is
    worked out every time. What is kept is never None.

    >>> kept, calls = Kept(), []
    >>> [by_values(kept, ["age"], {"age": 40}.get, lambda: calls.append(1) or "adult") for _ in range(2)], calls
    (['adult', 'adult'], [1])
    """
    if not facts:
        return work(*args)
    key = tuple(map(get, facts))
    try:
        found = kept.get(key)
    except TypeError:  # a value that cannot be a key (the vocabulary's reader gave a list)
        return work(*args)
    if found is None:
        found = kept.put(key, work(*args))
    return found
