"""Every input bounded, every lenient reading refused (issue 7, items 1, 3, 5, 8).

Each case here failed before its fix: hung, raised a Python exception, or
read hostile input as something else. Each must now give a clear message
(or the right result) within a second.
"""

from __future__ import annotations

import json

import pytest

from evaluator.language.incident import DuplicateKeyError, strict_object


# ------------------------------------------------------------ duplicate keys

@pytest.mark.parametrize("text, key", [
    ('{"total_dose": "3 mSv", "total_dose": "30 mSv"}', "total_dose"),
    ('{"id": 1, "age": 3, "age": 3}', "age"),  # the same value twice is refused too: a copy-paste slip
    ('{"a": {"b": 1, "b": 2}}', "b"),  # nested objects as well
])
def test_duplicate_keys_are_refused(text, key):
    with pytest.raises(DuplicateKeyError) as error:
        json.loads(text, object_pairs_hook=strict_object)
    assert error.value.key == key
    assert f'"{key}" is given twice' in str(error.value)
    assert isinstance(error.value, ValueError)  # callers that catch ValueError for bad JSON catch it too


def test_distinct_keys_are_kept_in_order():
    assert list(json.loads('{"b": 1, "a": 2}', object_pairs_hook=strict_object)) == ["b", "a"]
