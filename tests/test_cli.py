"""clausemap.cli: the command shows training's progress lines on stderr, set up by the command itself."""

import logging

from clausemap.cli import PROGRESS_LOGGERS, build_parser, show_progress


def _handlers() -> list[logging.Handler]:
    return [h for name in PROGRESS_LOGGERS for h in logging.getLogger(name).handlers]


def test_building_the_parser_configures_no_logging():
    before = _handlers()
    build_parser()  # imports every stage's command module
    assert _handlers() == before


def test_progress_lines_go_to_stderr_once_however_often_it_is_set_up(capsys):
    show_progress()
    show_progress()
    logging.getLogger("training.kinds.ensemble").info("member %d/%d: %s (%s)", 1, 2, "bert", "bert")
    logging.getLogger("httpx").info("HTTP Request: GET http://t")  # another library's INFO line
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["[training.kinds.ensemble] member 1/2: bert (bert)"]
    assert captured.out == ""
