"""networkd's object paths: sd-bus label escaping both ways, and the ifindex in a link path."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netevd.sources.networkd.paths import (
    PathError,
    escape_label,
    ifindex_from_link_path,
    link_path,
    unescape_label,
)

LINK = "/org/freedesktop/network1/link/"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("2", "_32"),
        ("12", "_312"),
        ("2147483647", "_32147483647"),
        ("", "_"),
        ("eth0", "eth0"),
        ("1a", "_31a"),
        ("a-b.c", "a_2db_2ec"),
        ("_", "_5f"),
        ("é", "_c3_a9"),
    ],
)
def test_escape_matches_sd_bus(text, label):
    assert escape_label(text) == label
    assert unescape_label(label) == text


@given(st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8")))
def test_unescape_reverses_escape(text):
    assert unescape_label(escape_label(text)) == text


@pytest.mark.parametrize(
    ("label", "index"),
    [("_31", 1), ("_32", 2), ("_312", 12), ("_340", 40), ("_32147483647", 2147483647)],
)
def test_ifindex_from_link_path(label, index):
    assert ifindex_from_link_path(LINK + label) == index
    assert link_path(index) == LINK + label


@pytest.mark.parametrize(
    "path",
    [
        LINK + "_3",  # escape cut short
        LINK + "_3g",  # not hex
        LINK + "_x2",
        LINK + "_",  # the empty string
        LINK + "12",  # digits unescaped: not what sd-bus emits for "12"
        LINK + "_31_32",  # "12" again, escaped once too often
        LINK + "_30",  # ifindex 0
        LINK + "_3012",  # leading zero
        LINK + "_32147483648",  # beyond a kernel ifindex
        LINK + "_2d1",  # "-1"
        LINK + "_00",  # NUL
        LINK + "_2e_2e",  # ".."
        LINK + "_ff",  # not UTF-8
        LINK + "_32/x",  # below a link
        LINK,
        "/org/freedesktop/network1/network/_32",
        "/org/freedesktop/network1",
        "/_32",
    ],
)
def test_bad_link_paths_are_refused(path):
    with pytest.raises(PathError):
        ifindex_from_link_path(path)


@pytest.mark.parametrize("label", ["_3", "_zz", "a b", "a/b", "_0"])
def test_bad_labels_are_refused(label):
    with pytest.raises(PathError):
        unescape_label(label)


@pytest.mark.parametrize("index", [0, -1, 2**31])
def test_link_path_needs_an_ifindex(index):
    with pytest.raises(PathError):
        link_path(index)
