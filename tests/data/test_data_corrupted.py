"""allow_corrupted_samples per split: tags decide the split, unknown tags count against both."""
from pathlib import Path

import pytest

from trainer.data.corrupted import check_corrupted, corrupted_counts, excess_lines, skipped_record
from trainer.data.types import Problem, Project, ProjectMeta
from trainer.errors import DataError

TAGS = {"train": "fit", "val": "check"}
PROBLEMS = [
    Problem("ds", "ann/a.json", 0, "bad object", frozenset({"fit"})),
    Problem("ds", "ann/a.json", 2, "another bad object", frozenset({"fit"})),   # same sample: counted once
    Problem("ds", "img/b.jpg", None, "unreadable", frozenset({"fit", "check"})),
    Problem("ds", "ann/c.json", None, "cannot be parsed", None),                # split unknown: both
    Problem("ds", "ann/d.json", None, "bad size", frozenset({"other"})),        # in no split: neither
]


def project(problems):
    return Project(Path("p"), ProjectMeta([], {}), [], {}, problems)


def test_counts_per_split():
    assert corrupted_counts(PROBLEMS, TAGS) == {"train": (3, 1), "val": (2, 1)}


@pytest.mark.parametrize(
    "allowed, expected",
    [
        ({"train": 3, "val": 2}, []),
        ({"train": 2, "val": 2}, ['3 corrupted sample(s) in split train (tag "fit", 1 of them of unknown split), '
                                  "more than allow_corrupted_samples.train permits (2)"]),
        ({"train": 3, "val": 0}, ['2 corrupted sample(s) in split val (tag "check", 1 of them of unknown split), '
                                  "more than allow_corrupted_samples.val permits (0)"]),
    ],
)
def test_excess_per_split(allowed, expected):
    assert excess_lines(PROBLEMS, TAGS, allowed) == expected


def test_within_allowance_every_problem_is_listed_and_returned(capsys):
    assert check_corrupted(project(PROBLEMS), TAGS, {"train": 3, "val": 2}) == PROBLEMS
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'skipped corrupted sample: dataset "ds", ann/a.json: object 0: bad object'
    assert len(out) == len(PROBLEMS)


def test_beyond_allowance_refuses_with_every_problem():
    with pytest.raises(DataError) as error:
        check_corrupted(project(PROBLEMS[:1]), TAGS, {"train": 0, "val": 0})
    assert error.value.lines == [
        'dataset "ds", ann/a.json: object 0: bad object',
        '1 corrupted sample(s) in split train (tag "fit"), more than allow_corrupted_samples.train permits (0)',
    ]


def test_skipped_record():
    assert skipped_record(PROBLEMS[2:4]) == [
        {"dataset": "ds", "file": "img/b.jpg", "object": None, "message": "unreadable", "tags": ["check", "fit"]},
        {"dataset": "ds", "file": "ann/c.json", "object": None, "message": "cannot be parsed", "tags": None},
    ]
