"""A bureau's own history, learned: its sections ranked as its history shows, once the history proves itself in
leave-one-out; collectives never suggested; a catalogue of bare section names gets its functions from the lexicon."""

from __future__ import annotations

import itertools

import pytest

from labels.catalogue import Catalogue, load_catalogue
from labels.functions import infer, load_lexicon
from labels.taxonomy import load_taxonomy
from training.departments.suggester import DepartmentSuggester
from training.departments.evaluation import ranking_metrics

# A made-up school. Its catalogue says 安全办 owns safety; its history says 总务处 leads the safety tasks.
SCHOOL = Catalogue.model_validate({
    "id": "school", "bureau": "某某中学",
    "departments": [
        {"name": "安全办", "responsibility": "校园安全", "categories": ["safety"], "keywords": ["安全"]},
        {"name": "总务处", "responsibility": "后勤保障", "categories": ["other"]},
        {"name": "教务处", "responsibility": "教学管理", "categories": ["other"]},
        {"name": "政教处", "responsibility": "学生管理", "categories": ["other"]},
        {"name": "各处室", "responsibility": "全体处室", "categories": ["safety"], "keywords": ["安全"]},
    ],
})


def _tasks(subjects, actions, lead, cooperating, category):
    for k, (subject, action) in enumerate(itertools.product(subjects, actions)):
        yield {"id": f"{lead}-{k}", "doc": "2023年学校工作计划", "number": str(k + 1), "text": f"{action}{subject}工作。",
               "departments": [lead, cooperating], "lead_departments": [lead], "categories": [category]}


SAFETY = list(_tasks(["校园安全隐患排查", "消防安全检查", "食品安全管理", "防溺水安全教育", "交通安全宣传"],
                     ["认真做好", "扎实开展"], "总务处", "政教处", "safety"))
TEACHING = list(_tasks(["课堂教学常规检查", "校本教研活动", "学生学籍管理", "期中考试组织", "青年教师听评课"],
                       ["认真做好", "扎实开展"], "教务处", "政教处", "other"))
MORAL = list(_tasks(["主题班会", "升旗仪式教育", "学生心理健康辅导", "文明班级评比", "学生行为规范养成"],
                    ["认真做好", "扎实开展"], "政教处", "教务处", "other"))
HISTORY = SAFETY + TEACHING + MORAL  # 30 tasks
NEW_SAFETY = "扎实开展校园消防安全隐患排查工作。"
SAFETY_SCORES = {"safety": 0.95, "other": 0.05}


def test_the_history_outranks_the_catalogue_once_it_proves_itself():
    suggester = DepartmentSuggester(SCHOOL).fit(HISTORY)
    assert len(suggester.history) == 30
    # in leave-one-out the history ranked its own held-out tasks well, so it counts more than the catalogue
    assert suggester.blend.share > 0.5 and suggester.blend.recall_at_3 > 0.9
    [ranked] = suggester.suggest([NEW_SAFETY], [SAFETY_SCORES])
    # the sections of the past safety tasks come first, 总务处 leading as it did; the catalogue's owner after them
    assert {s.name for s in ranked[:2]} == {"总务处", "政教处"} and ranked[2].name == "安全办"
    assert [s.name for s in ranked if s.lead] == ["总务处"]
    reason = next(s for s in ranked if s.lead).reasons[0]
    assert reason.kind == "history" and reason.bureau == "某某中学" and reason.number
    assert reason.plan == "2023年学校工作计划" and reason.year == "2023"


def test_a_history_too_short_to_prove_itself_leaves_the_catalogue_in_charge():
    [ranked] = DepartmentSuggester(SCHOOL).fit(SAFETY[:1] + TEACHING[:1]).suggest([NEW_SAFETY], [SAFETY_SCORES])
    assert ranked[0].name == "安全办" and ranked[0].lead
    assert {r.kind for r in ranked[0].reasons} == {"category", "keyword"}


def test_leave_one_task_out_on_the_made_up_history():
    ranked = []
    for i, task in enumerate(HISTORY):
        suggester = DepartmentSuggester(SCHOOL).fit(HISTORY[:i] + HISTORY[i + 1:])
        ranked += suggester.suggest([task["text"]], [{c: 1.0 for c in task["categories"]}])
    metrics = ranking_metrics(HISTORY, ranked, SCHOOL)
    assert metrics.recall_at_3 == 1.0 and metrics.lead_accuracy > 0.9


def test_collectives_never_come_back_as_suggestions():
    history = [dict(task, departments=[*task["departments"], "各处室"]) for task in HISTORY]
    suggester = DepartmentSuggester(SCHOOL).fit(history)
    assert all("各处室" not in item.departments for item in suggester.history)
    for ranked in suggester.suggest([NEW_SAFETY, "加强安全管理。"], [SAFETY_SCORES, None]):
        assert ranked and "各处室" not in [s.name for s in ranked]


def test_a_co_leading_bureau_gets_several_leads_and_the_metric_counts_any_of_them():
    history = [dict(task, lead_departments=task["departments"]) for task in HISTORY]
    suggester = DepartmentSuggester(SCHOOL).fit(history)
    assert suggester.blend.co_lead
    [ranked] = suggester.suggest([NEW_SAFETY], [SAFETY_SCORES])
    assert {s.name for s in ranked if s.lead} == {"总务处", "政教处"}
    # a task with several leads counts the top lead right when it is any of them
    truth = [{"departments": ["政教处", "总务处"], "lead_departments": ["政教处", "总务处"]}]
    assert ranking_metrics(truth, [ranked], SCHOOL).lead_accuracy == 1.0


def test_a_catalogue_of_bare_section_names_gets_its_functions():
    bare = Catalogue.model_validate({"id": "bare", "bureau": "某区教育局",
                                     "departments": ["安全科", "计划财务科", "组织人事科", "学前教育科", "职成教科",
                                                     "机关党委", "政教处", "督导室"]},
                                    context={"taxonomy": load_taxonomy()})
    categories = {d.name: d.categories for d in bare.departments}
    assert categories["安全科"] == ("safety",)
    assert categories["计划财务科"] == ("finance",)
    assert categories["组织人事科"] == ("party_building", "teachers")
    assert categories["学前教育科"] == ("preschool",)
    assert categories["职成教科"] == ("vocational",)
    assert categories["机关党委"] == ("party_building",)
    assert categories["政教处"] == categories["督导室"] == ("other",)
    assert "德育" in bare.get("政教处").keywords  # a function with no category of its own still has keywords
    [ranked] = DepartmentSuggester(bare).suggest(["落实学生资助经费。"], [{"finance": 0.9, "other": 0.1}])
    assert ranked[0].name == "计划财务科"


def test_categories_written_in_the_catalogue_are_kept():
    own = Catalogue.model_validate({"id": "own", "bureau": "某区教育局", "departments": [
        {"name": "安全科", "responsibility": "综合", "categories": ["other"]}]})
    assert own.departments[0].categories == ("other",) and own.departments[0].keywords == ()


@pytest.mark.parametrize("name, functions", [
    ("安全科", ("safety",)), ("安监科", ("safety",)), ("平安办", ("safety",)), ("规划财务科", ("finance",)),
    ("资助中心", ("finance",)), ("师训科", ("teachers",)), ("幼教科", ("preschool",)), ("成教科", ("vocational",)),
    ("纪检组", ("party_building",)), ("思政德育科", ("moral",)), ("基教科", ("teaching",)), ("教研室", ("teaching",)),
    ("督导室", ("supervision",)), ("体卫艺科", ("pe_health_arts",)), ("电教馆", ("information",)),
    ("后勤服务中心", ("logistics",)), ("办公室", ("office",)), ("无名科", ()),
])
def test_lexicon_reads_functions_from_names(name, functions):
    assert infer(name).functions == functions


def test_lexicon_categories_are_taxonomy_ids():
    ids = set(load_taxonomy().ids)
    assert all(set(f.categories) <= ids for f in load_lexicon().functions)


def test_the_shipped_catalogue_is_unchanged_by_the_lexicon():
    """承德's sections all have their own categories: nothing is inferred over them."""
    import yaml

    from labels.catalogue import DEFAULT_CATALOGUE

    written = {d["name"]: tuple(d["categories"]) for d in yaml.safe_load(DEFAULT_CATALOGUE.read_text())["departments"]}
    assert {d.name: d.categories for d in load_catalogue().departments} == written


def test_catalogue_init_puts_what_the_name_says_first_and_describes_it():
    from types import SimpleNamespace

    from labels.catalogue_init import catalogue_from_items, describe

    items = [SimpleNamespace(text="做好学生资助工作。", departments=["计划财务科", "各科室"], lead_departments=["计划财务科"]),
             SimpleNamespace(text="开展校园安全检查。", departments=["安全科"], lead_departments=["安全科"])]
    made = catalogue_from_items(items, "某区教育局", "made", lambda texts: [["other"] for _ in texts], {})
    assert made.names == ["计划财务科", "安全科"]  # the collective is no section
    assert made.get("计划财务科").categories == ("finance", "other")
    assert "经费" in made.get("计划财务科").keywords
    assert "安全科: categories safety, other; the name says safety" in describe(made)
