"""The markers that keep slow tests out of `make test-fast`, and the check that a test carries the ones it needs.

A fixture that trains or loads a model, starts a server process, Label Studio or a browser says so with
`@needs("model")` (etc.) under its `@pytest.fixture`; a test that uses such a fixture, directly, through another
fixture or through `request.getfixturevalue`, must carry that marker, or the run stops with a message naming the
test, the fixture and the marker to add.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

SLOW_MARKERS = ("model", "server", "label_studio", "browser")
FAST_SELECTION = " and ".join(f"not {marker}" for marker in SLOW_MARKERS)
_ATTRIBUTE = "_clausemap_needs_marker"


def needs(*markers: str) -> Callable:
    """Declare on a fixture function the markers every test using it must carry."""
    unknown = set(markers) - set(SLOW_MARKERS)
    if unknown:
        raise ValueError(f"unknown test markers {sorted(unknown)}; known: {SLOW_MARKERS}")

    def declare(fixture_function: Callable) -> Callable:
        setattr(fixture_function, _ATTRIBUTE, tuple(markers))
        return fixture_function

    return declare


def _declared(fixturedef) -> tuple[str, ...]:
    function = getattr(fixturedef, "func", None)
    while function is not None:
        declared = getattr(function, _ATTRIBUTE, None)
        if declared:
            return declared
        function = getattr(function, "__wrapped__", None)
    return ()


def missing_markers(item, fixturedefs: Iterable) -> list[str]:
    """'fixture needs marker' for each slow fixture of the item whose marker the item does not carry."""
    carried = {mark.name for mark in item.iter_markers()}
    return [f"{fixturedef.argname} needs @pytest.mark.{marker}"
            for fixturedef in fixturedefs for marker in _declared(fixturedef) if marker not in carried]


def statically_used(item) -> list:
    """The fixture definitions an item requests, directly or through other fixtures."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    return [fixturedef for name in info.names_closure for fixturedef in info.name2fixturedefs.get(name, ())]


def dynamically_used(item) -> list:
    """The fixture definitions set up for an item so far, including those asked for by name at run time."""
    request = getattr(item, "_request", None)
    return list(getattr(request, "_fixture_defs", {}).values())
