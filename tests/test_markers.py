"""tests/support/markers.py: a test using a slow fixture without its marker is named, with the marker to add."""

from types import SimpleNamespace

import pytest

from tests.support.markers import FAST_SELECTION, missing_markers, needs


def fixturedef(argname, function):
    return SimpleNamespace(argname=argname, func=function)


def item(*marker_names):
    return SimpleNamespace(iter_markers=lambda: [SimpleNamespace(name=n) for n in marker_names])


@needs("model", "server")
def served_model():
    """A fixture function as a test file declares it."""


def plain():
    """A fixture that needs nothing."""


def test_an_unmarked_test_using_a_slow_fixture_is_named_with_each_missing_marker():
    used = [fixturedef("served_model", served_model), fixturedef("plain", plain)]
    assert missing_markers(item(), used) == ["served_model needs @pytest.mark.model",
                                             "served_model needs @pytest.mark.server"]
    assert missing_markers(item("model"), used) == ["served_model needs @pytest.mark.server"]
    assert missing_markers(item("model", "server"), used) == []


def test_the_declaration_survives_a_wrapping_decorator():
    def wrapper():
        pass

    wrapper.__wrapped__ = served_model
    assert missing_markers(item(), [fixturedef("wrapped", wrapper)]) == [
        "wrapped needs @pytest.mark.model", "wrapped needs @pytest.mark.server"]


def test_an_unknown_marker_is_refused_when_declared():
    with pytest.raises(ValueError, match="unknown test markers"):
        needs("gpu")


def test_the_fast_selection_is_the_one_the_makefile_runs():
    from clausemap.paths import PROJECT_ROOT

    assert f'-m "{FAST_SELECTION}"' in (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
