"""`clausemap label init` and the check every other command makes: is the project's config current?"""

from __future__ import annotations

from clausemap.errors import ClausemapError
from labels.studio.config import config_mismatch, label_config

DESCRIPTION = "clausemap: categories and responsible sections of education work-plan clauses"


def init_project(studio, title: str, taxonomy, catalogue) -> tuple[str, object]:
    """Create the project, or bring its labelling config up to date. Returns (what was done, project)."""
    config = label_config(taxonomy, catalogue)
    project = studio.find_project(title)
    if project is None:
        with studio.errors(f"creating project {title!r}"):
            created = studio.client.projects.create(title=title, label_config=config, description=DESCRIPTION)
        return "created", created
    if project.label_config == config:
        return "unchanged", project
    with studio.errors(f"updating the labelling config of {title!r}"):
        studio.client.projects.update(project.id, label_config=config)
    return "updated", project


def require_current_project(studio, title: str, taxonomy, catalogue):
    """The project, provided its labelling config still matches the taxonomy and the catalogue."""
    project = studio.require_project(title)
    problem = config_mismatch(project.label_config or "", taxonomy, catalogue)
    if problem:
        raise ClausemapError(
            f"project {title!r}'s labelling config no longer matches the taxonomy/catalogue ({problem}); "
            f"update it with: clausemap label init --project {title!r}"
        )
    return project
