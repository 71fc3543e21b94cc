"""The depth-capped JSON parser: deep documents are refused before the C decoder recurses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oracle.jsonsafe import JsonRejected, excerpt, loads, nesting_depth


def test_ordinary_documents_parse_as_json_does() -> None:
    doc = {"items": [{"meter_id": "m-1", "ts": "2026-01-01T00:00:00Z", "v": [1, 2, {"a": None}]}],
           "next_cursor": None, "s": "brackets [[[ {{{ in a \"string\" ]]] }}} do not count"}
    text = json.dumps(doc)
    assert loads(text) == doc
    assert loads(text.encode()) == doc
    assert nesting_depth(text) == 5  # {items: [{v: [{...}]}]}


@pytest.mark.parametrize("opener", ["[", "{\"a\":"])
def test_a_document_deeper_than_the_cap_is_refused_and_not_echoed(opener: str) -> None:
    text = opener * 65 + "1" + ("]" if opener == "[" else "}") * 65
    with pytest.raises(JsonRejected, match="deeper than 64") as info:
        loads(text)
    assert opener not in str(info.value)
    assert loads(opener * 64 + "1" + ("]" if opener == "[" else "}") * 64) is not None


def test_a_hundred_thousand_brackets_raise_instead_of_crashing_with_py_evm_imported() -> None:
    # py_ecc and py-evm raise the recursion limit to 100,000 on import: json.loads would segfault.
    code = ("import eth, py_ecc, sys\n"
            "assert sys.getrecursionlimit() >= 100000\n"
            "from oracle.jsonsafe import loads, JsonRejected\n"
            "try:\n    loads('[' * 100000)\nexcept JsonRejected as err:\n    print('refused:', err)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert "refused: JSON nested deeper than 64 levels" in done.stdout


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe{}", "not UTF-8"),
    ("{\"a\": 1", "not valid JSON at line 1"),
    ("", "not valid JSON"),
])
def test_malformed_input_names_what_is_wrong(data: str | bytes, message: str) -> None:
    with pytest.raises(JsonRejected, match=message):
        loads(data)


def test_an_unterminated_string_does_not_hide_brackets_from_the_decoder() -> None:
    with pytest.raises(JsonRejected):
        loads('["abc')


def test_excerpt_is_short_and_on_one_line() -> None:
    text = "x\n" * 500
    short = excerpt(text)
    assert len(short) <= 80 and "\n" not in short and short.endswith("…")


@pytest.mark.parametrize(("text", "depth"), [
    ('["a\\\\", [[1]]]', 3),  # an escaped backslash ends the string
    ('["a\\"[[[", [1]]', 2),  # an escaped quote does not
    ('["\\\\\\"[[[", [[[]]]]', 4),
    ('{"é[": "ü{", "k": [{}]}', 3),  # multi-byte characters around brackets
    ('"[[[["', 0),
    ("[" + "[], " * 999 + "[]]", 2),
])
def test_brackets_in_strings_and_escapes_are_counted_as_the_decoder_sees_them(
        text: str, depth: int) -> None:
    assert nesting_depth(text) == depth == nesting_depth(text.encode())
    json.loads(text)  # each one is valid JSON
