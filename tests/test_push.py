"""labels.studio.push: which clauses a push creates, updates, leaves alone or predicts again."""

from types import SimpleNamespace

from labels.studio.push import plan_push


def test_plan_push_sorts_new_changed_unchanged_and_unpredicted():
    def task(data, versions=()):
        return SimpleNamespace(data=data, predictions=[{"model_version": v} for v in versions])

    a, b, c, d = ({"clause_id": k, "text": k} for k in "abcd")
    existing = {"a": task(a, ["m1"]), "b": task({**b, "text": "old"}), "c": task(c, ["m0"])}
    plan = plan_push(existing, [a, b, c, d], "m1")
    assert plan.new == [d]
    assert [data for _, data in plan.changed] == [b]
    assert plan.unchanged == ["a", "c"]
    assert [data for _, data in plan.unpredicted] == [c]  # unchanged, but without m1's prediction
    assert plan_push(existing, [a, c], None).unpredicted == []  # no model: nothing to predict


def test_a_plans_stated_sections_become_catalogue_names_and_unknown_ones_are_reported():
    """Stated names follow labels.rows' policy for names a plan writes: aliases and two names glued together
    resolve (splitting glued names is new here; tables did it before), the rest is left out and reported."""
    from labels.catalogue import Catalogue
    from labels.studio.push import task_data

    catalogue = Catalogue.model_validate({"id": "school", "bureau": "某某中学", "departments": [
        {"name": "教学处", "aliases": ["教务处"]}, "教科室", "团委"]})
    clause = {"id": "p-1", "text": "开展校本教研。", "doc": "p", "departments": ["教学处教科室", "区政府", "团 委"],
              "lead_departments": ["教务处"]}
    unknown: set[str] = set()
    data = task_data(clause, catalogue, unknown)
    assert data["departments"] == ["教学处", "教科室", "团委"] and data["lead_departments"] == ["教学处"]
    assert unknown == {"区政府"}
