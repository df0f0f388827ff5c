"""The Label Studio labelling config, generated from the taxonomy and the department catalogue.

The names below are a contract: annotation files (data/annotations/*.json), pushed predictions and the
ML backend's /predict answers all refer to them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from clausemap.errors import ClausemapError

TEXT_NAME = "text"  # <Text name=...>: the clause body
CATEGORIES_NAME = "categories"  # <Choices name=...>: stored values are taxonomy ids
DEPARTMENTS_NAME = "departments"  # <Choices name=...>: stored values are catalogue names
EVIDENCE_NAME = "evidence"  # <Labels name=...>: sentence spans that decide a category; values are taxonomy ids
SECTION_SEPARATOR = " / "  # task data "section" is the headings joined with this


def label_config(taxonomy, catalogue) -> str:
    """The labelling config XML: clause text with its document and section as context, multi-choice
    categories (stored as taxonomy ids, shown as Chinese name + id, described in the hint) and
    multi-choice departments (catalogue names, responsibility as the hint)."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="$doc", size="6")
    ET.SubElement(view, "Header", value="$section", size="5")
    # Pre-annotations highlight the sentence(s) that decided each category the model gave.
    evidence = ET.SubElement(view, "Labels", name=EVIDENCE_NAME, toName=TEXT_NAME, showInline="true")
    for cat in taxonomy.categories:
        if not cat.fallback:
            ET.SubElement(evidence, "Label", value=cat.id, hint=f"依据: {cat.name}")
    ET.SubElement(view, "Text", name=TEXT_NAME, value="$text")

    ET.SubElement(view, "Header", value="类别 Categories", size="4")
    categories = ET.SubElement(
        view,
        "Choices",
        name=CATEGORIES_NAME,
        toName=TEXT_NAME,
        choice="multiple",
        required="true",
        showInline="true",
    )
    for cat in taxonomy.categories:
        ET.SubElement(categories, "Choice", value=f"{cat.name} {cat.id}", alias=cat.id, hint=cat.description)

    ET.SubElement(view, "Header", value="责任科室 Departments", size="4")
    departments = ET.SubElement(
        view, "Choices", name=DEPARTMENTS_NAME, toName=TEXT_NAME, choice="multiple", showInline="true"
    )
    for dept in catalogue.departments:
        ET.SubElement(departments, "Choice", value=dept.name, hint=dept.responsibility or dept.name)

    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


def _parse(config_xml: str) -> ET.Element:
    try:
        return ET.fromstring(config_xml)
    except ET.ParseError as exc:
        raise ClausemapError(f"the project's labelling config is not valid XML ({exc})") from None


def config_choices(config_xml: str) -> dict[str, list[str]]:
    """The stored values (alias, else value) of each <Choices> and <Labels> block, keyed by its name."""
    root = _parse(config_xml)
    blocks = [(block, "Choice") for block in root.iter("Choices")] + [(block, "Label") for block in root.iter("Labels")]
    return {
        block.get("name", ""): [c.get("alias") or c.get("value", "") for c in block.iter(item)]
        for block, item in blocks
    }


def config_mismatch(config_xml: str, taxonomy, catalogue=None) -> str | None:
    """Why a project's config no longer matches the taxonomy (and the catalogue, when given), or None."""
    problems = []
    if not any(t.get("name") == TEXT_NAME for t in _parse(config_xml).iter("Text")):
        problems.append(f'no <Text name="{TEXT_NAME}">')
    choices = config_choices(config_xml)
    expected_choices = {CATEGORIES_NAME: taxonomy.ids}
    if catalogue is not None:
        expected_choices[DEPARTMENTS_NAME] = [d.name for d in catalogue.departments]
    for name, expected in expected_choices.items():
        if name not in choices:
            problems.append(f'no <Choices name="{name}">')
            continue
        missing = [v for v in expected if v not in choices[name]]
        extra = [v for v in choices[name] if v not in expected]
        if missing:
            problems.append(f"{name} lacks {', '.join(missing)}")
        if extra:
            problems.append(f"{name} has unknown {', '.join(extra)}")
    return "; ".join(problems) or None
