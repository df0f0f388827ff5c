"""clausemap.clauses.deadlines: the deadlines a clause states, and words that only look like one."""

import pytest


@pytest.mark.parametrize("text, expected", [
    ("6月底前完成自查,年底前全面完成整改。", ["6月底前", "年底前"]),
    ("2022年9月前建成智慧校园平台。", ["2022年9月前"]),
    ("秋季学期开学前完成校舍维修。", ["秋季学期开学前"]),
    ("2025年底前,学前三年毛入园率达到92%。", ["2025年底前"]),
    ("上半年完成教师招聘,第三季度完成中期评估。", ["上半年", "第三季度"]),
    ("于12月20日前报送市教育局。", ["12月20日前"]),
    ("2021年以来,累计投入资金5亿元,自9月1日起施行。", []),
    ("前期工作扎实推进,推进学前教育普及普惠发展。", []),
])
def test_deadlines_a_clause_states(text, expected):
    from clausemap.clauses.deadlines import find_deadlines

    assert find_deadlines(text) == expected
