"""The department catalogue: the shipped one covers seed 000, names resolve as plans write them, and a
malformed file is refused with an error that names the file and the key."""

from __future__ import annotations

import pytest
import yaml

from clausemap.clauses import segment_file
from clausemap.cli import main
from clausemap.errors import ClausemapError, InputFileError
from clausemap.paths import PROJECT_ROOT
from labels.catalogue import find_catalogue, load_catalogue
from labels.taxonomy import load_taxonomy

SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))

OTHER_BUREAU = {
    "id": "testcity",
    "bureau": "测试市教育局",
    "departments": [
        {"name": "学前科", "aliases": ["学前教育科"], "responsibility": "幼儿园管理", "categories": ["preschool"]},
        {"name": "财务科", "responsibility": "经费和资助", "categories": ["finance"], "keywords": ["经费"]},
    ],
}


def write_catalogue(tmp_path, data, name="departments-test.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_catalogue_knows_every_department_seed_000_names():
    catalogue = load_catalogue()
    clauses = segment_file(SEED_000).clauses
    written = {name for clause in clauses for name in clause.departments}
    assert len(clauses) == 29 and written
    assert {name for name in written if catalogue.resolve(name) is None} == set()
    # Every name the plan writes maps to a distinct catalogue entry, and every entry is used by the plan.
    assert {catalogue.resolve(name) for name in written} == set(catalogue.names)


def test_shipped_catalogue_fields():
    catalogue = load_catalogue()
    taxonomy = load_taxonomy()
    assert catalogue.bureau == "承德市教育局"
    assert len(catalogue.names) == len(set(catalogue.names))
    for dept in catalogue.departments:
        assert dept.responsibility.strip()
        assert dept.categories and set(dept.categories) <= set(taxonomy.ids)
    # Every specific category has an owner to suggest.
    assert all(catalogue.owners_of(c) for c in taxonomy.specific_ids)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("机关党委(机关纪委)", "机关党委"),
        ("机关党委（机关纪委）", "机关党委"),  # full-width parentheses
        ("机关纪委", "机关党委"),
        ("办公室(法规科)", "办公室"),
        ("办公室（法规科）", "办公室"),
        ("局防控办各专项工作", "局防控办"),
        (" 基础教育科 ", "基础教育科"),
        ("基础教育科", "基础教育科"),
        ("不存在的科室", None),
        ("", None),
    ],
)
def test_resolve_names_as_written(written, expected):
    assert load_catalogue().resolve(written) == expected


def test_owners_of_lists_lead_owners_first():
    catalogue = load_catalogue()
    owners = catalogue.owners_of("safety")
    leads = [d.name for d in catalogue.departments if d.categories[0] == "safety"]
    assert owners[: len(leads)] == leads
    assert "思政德育科" in owners[len(leads) :]  # owns safety, but leads another category


def test_another_bureau_adds_its_own_file(tmp_path):
    path = write_catalogue(tmp_path, OTHER_BUREAU)
    catalogue = load_catalogue(path)
    assert (catalogue.id, catalogue.bureau, catalogue.names) == ("testcity", "测试市教育局", ["学前科", "财务科"])
    assert catalogue.resolve("学前教育科") == "学前科"
    assert catalogue.resolve("基础教育科") is None  # names of the shipped bureau are not this one's
    assert find_catalogue(path) == catalogue
    assert find_catalogue(None) == load_catalogue()
    assert find_catalogue("chengde") == load_catalogue()


def test_unknown_catalogue_id_lists_the_known_ones(tmp_path):
    with pytest.raises(ClausemapError, match="chengde"):
        find_catalogue("no-such-bureau")
    with pytest.raises(InputFileError, match="cannot read department catalogue"):
        find_catalogue(tmp_path / "absent.yaml")


def _error_for(tmp_path, data) -> str:
    path = write_catalogue(tmp_path, data)
    with pytest.raises(InputFileError) as caught:
        load_catalogue(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    return message


def test_unknown_category_names_file_department_and_key(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(OTHER_BUREAU))
    data["departments"][1]["categories"] = ["finance", "money"]
    message = _error_for(tmp_path, data)
    assert "departments[1] (财务科).categories" in message and "'money'" in message


def test_missing_key_is_named(tmp_path):
    data = {k: v for k, v in OTHER_BUREAU.items() if k != "bureau"}
    assert "bureau" in _error_for(tmp_path, data)


def test_missing_responsibility_is_named(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(OTHER_BUREAU))
    del data["departments"][0]["responsibility"]
    assert "departments[0] (学前科).responsibility" in _error_for(tmp_path, data)


def test_misspelt_key_is_refused(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(OTHER_BUREAU))
    data["departments"][0]["alias"] = data["departments"][0].pop("aliases")
    assert "departments[0] (学前科).alias" in _error_for(tmp_path, data)


def test_alias_shared_by_two_departments_is_refused(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(OTHER_BUREAU))
    data["departments"][1]["aliases"] = ["学前教育科"]
    message = _error_for(tmp_path, data)
    assert "学前教育科" in message and "学前科" in message and "财务科" in message


def test_names_differing_only_in_parenthesis_width_collide(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(OTHER_BUREAU))
    data["departments"][0]["aliases"] = ["办公室(法规科)"]
    data["departments"][1]["aliases"] = ["办公室（法规科）"]
    assert "办公室" in _error_for(tmp_path, data)


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nbureau: y\ndepartments: [\n  - name: a\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=rf"^{path}:\d+: invalid YAML"):
        load_catalogue(path)


def test_not_a_mapping_and_missing_file(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="must be a mapping"):
        load_catalogue(path)
    with pytest.raises(InputFileError, match="cannot read"):
        load_catalogue(tmp_path / "absent.yaml")


def test_categories_are_checked_against_the_given_taxonomy(tmp_path):
    taxonomy_path = tmp_path / "taxonomy.yaml"
    taxonomy_path.write_text(
        yaml.safe_dump(
            {"categories": [{"id": "money", "name": "钱", "description": "d"},
                            {"id": "rest", "name": "其他", "description": "d", "fallback": True}]},
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    taxonomy = load_taxonomy(taxonomy_path)
    data = yaml.safe_load(yaml.safe_dump(OTHER_BUREAU))
    data["departments"] = [{"name": "财务科", "responsibility": "经费", "categories": ["money"]}]
    assert load_catalogue(write_catalogue(tmp_path, data), taxonomy=taxonomy).names == ["财务科"]
    with pytest.raises(InputFileError, match="categories: unknown category 'preschool'"):
        load_catalogue(write_catalogue(tmp_path, OTHER_BUREAU, "other.yaml"), taxonomy=taxonomy)


def test_cli_reports_a_malformed_catalogue_in_one_line(tmp_path, capsys):
    data = yaml.safe_load(yaml.safe_dump(OTHER_BUREAU))
    data["departments"][0]["categories"] = ["kindergarten"]
    path = write_catalogue(tmp_path, data)
    dataset = tmp_path / "dataset.jsonl"
    dataset.write_text('{"text": "幼儿园", "departments": ["学前科"], "categories": ["preschool"]}\n', encoding="utf-8")
    assert main(["evaluate-departments", "--data", str(dataset), "--catalogue", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"clausemap: error: {path}: departments[0] (学前科).categories")
    assert "\n" not in err
