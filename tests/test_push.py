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
