"""Clean a plan's raw text: normalise characters, simplify traditional script, drop pinyin and page junk.

Plans are copied from web pages, so the text carries menus, recommendation lists, disclaimers, share prompts,
archive headers and footers. The result keeps one line per paragraph, stripped, with empty lines removed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

CJK = "\u4e00-\u9fff"

# "深圳(zhen)", "實(shi)(shi)": lower-case pinyin in half-width parentheses right after a Chinese character.
# Real parentheses hold Chinese, digits or capitals ("(2020-2023年)", "(U-G-S)", "机关党委(机关纪委)").
# A PDF may wrap the line between a character and its pinyin; the line break goes with the pinyin.
_PINYIN = re.compile(rf"(?<=[{CJK}])(?:\n?\([a-z]{{1,6}}\))+")
# The number "(二(er))" becomes "(二)" once the pinyin is gone, so pinyin goes before structure.

# Spaces next to Chinese text are layout, not content ("依托, 以区域"); between Latin words they are kept.
# Each run of spaces is matched once and its neighbours looked at: a lookahead after `[ \t]+` would rescan the
# run from every one of its spaces (quadratic in the run's length).
_SPACES = re.compile(r"[ \t]+")
_CJK_SIDE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff“”‘’《》]")

# Whole lines that are page furniture wherever they appear.
_JUNK_LINE = re.compile(
    r"""^(?:
        索\s*引\s*号|主题分类|发布机构|文件编号|有\s*效\s*性|成文日期|发布日期|信息来源|来源[:：]|
        为您推荐|相关推荐|猜你喜欢|热门推荐|
        -?\s*总页数|-?\s*大小[:：]|-\s*\d{4}-\d{2}-\d{2}|
        \d+、(?:范文|本站|我们重视)|
        分享到|打印本页|关闭窗口|【\s*(?:打印|关闭|字体|责任编辑)|
        上一篇|下一篇|返回顶部|网站地图|验证码|
        -+$|\d+\s*分$|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?$|-\s*\d+\s*-$
    )""",
    re.VERBOSE,
)

# Lines that start the page footer: once the plan has begun, everything from here on is dropped.
_FOOTER_START = re.compile(
    r"^(?:用微信|扫一扫|【\s*责任编辑|责任编辑[:：]|本文仅代表|本文地址|留言与评论|发表评论|请如实的对该文档|"
    r"联系方式$|版权所有|Copyright|主办单位|网站标识码|相关附件|附件[:：]?$)",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert traditional characters to simplified when the text is written in traditional script.

    Already-simplified text is left alone: a blanket conversion would alter the few characters that are
    valid in both scripts.
    """
    converter = _t2s()
    sample = text[:4000]
    changed = sum(a != b for a, b in zip(sample, converter.convert(sample)))
    hanzi = sum(1 for ch in sample if "\u4e00" <= ch <= "\u9fff") or 1
    return converter.convert(text) if changed / hanzi > 0.02 else text


def strip_pinyin(text: str) -> str:
    return _PINYIN.sub("", text)


_CIRCLED = re.compile("([\u2460-\u2473])")


def normalise(text: str) -> str:
    """NFKC (full-width punctuation and digits to half-width, as most published plans already are), keeping
    circled numbers (①②③: NFKC would make them bare digits, and they number items)."""
    text = "".join(part if _CIRCLED.fullmatch(part) else unicodedata.normalize("NFKC", part)
                   for part in _CIRCLED.split(text))
    text = text.replace("\u3000", " ").replace("\r\n", "\n").replace("\r", "\n")
    return _SPACES.sub(lambda run: "" if _next_to_cjk(run) else run.group(), text)


def _next_to_cjk(run: re.Match) -> bool:
    text, start, end = run.string, run.start(), run.end()
    return bool((start and _CJK_SIDE.match(text, start - 1)) or _CJK_SIDE.match(text, end))


def is_junk_line(line: str) -> bool:
    return bool(_JUNK_LINE.match(line))


def is_footer_start(line: str) -> bool:
    return bool(_FOOTER_START.match(line))


def clean_lines(raw: str) -> list[str]:
    """The plan's meaningful lines, in order."""
    text = to_simplified(strip_pinyin(normalise(raw)))
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or is_junk_line(line):
            continue
        if lines and is_footer_start(line):
            break
        lines.append(line)
    return lines


def clean_text(raw: str) -> str:
    return "\n".join(clean_lines(raw))
