"""allow_corrupted_samples: how many unreadable samples a run may skip before it is refused."""
from trainer.data.supervisely import Project
from trainer.errors import DataError
from trainer.progress import say


def check_corrupted(project: Project, allowed: int) -> None:
    """Skip up to `allowed` corrupted samples (each one listed), refuse the run beyond that."""
    corrupted = {(p.dataset, p.file) for p in project.problems}
    if len(corrupted) > allowed:
        raise DataError(*map(str, project.problems),
                        f"{len(corrupted)} corrupted sample(s), more than allow_corrupted_samples permits ({allowed})")
    for problem in project.problems:
        say(f"skipped corrupted sample: {problem}")
