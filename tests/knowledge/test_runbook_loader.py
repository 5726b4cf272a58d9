"""The runbook loader refuses unusable files and says which file and what is wrong."""

from pathlib import Path

import pytest

from knowledge.runbook import RunbookError, load_runbooks

FIXTURES = Path(__file__).parent / "fixtures" / "runbooks"


def _copy_fixtures(dest: Path) -> Path:
    dest.mkdir()
    for path in FIXTURES.glob("*.md"):
        (dest / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return dest


def test_fixture_runbooks_load_sorted_with_passages() -> None:
    books = load_runbooks(FIXTURES)
    assert [b.id for b in books] == ["api-memory-leak", "db-down", "db-lock", "disk-fill"]
    lock = next(b for b in books if b.id == "db-lock")
    assert lock.actions[0].action == "terminate-db-blockers"
    headings = [heading for heading, _ in lock.passages()]
    assert headings[:2] == ["Symptoms", "Diagnosis"]
    assert "Terminating the blocker" in headings


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        (
            "broken.md",
            "# Just a heading\n\nNo front-matter here.\n",
            r"broken\.md: no YAML front-matter",
        ),
        (
            "list.md",
            "---\n- just\n- a list\n---\nbody\n",
            r"list\.md: front-matter must be a mapping",
        ),
    ],
    ids=["missing", "not-a-mapping"],
)
def test_front_matter_missing_or_not_a_mapping_names_the_file(
    tmp_path: Path, name: str, text: str, error: str
) -> None:
    books = _copy_fixtures(tmp_path / "books")
    (books / name).write_text(text)
    with pytest.raises(RunbookError, match=error):
        load_runbooks(books)


def test_action_outside_the_catalogue_names_file_and_action(tmp_path: Path) -> None:
    books = _copy_fixtures(tmp_path / "books")
    text = (books / "db-lock.md").read_text(encoding="utf-8")
    (books / "db-lock.md").write_text(
        text.replace("action: terminate-db-blockers", "action: drop-database")
    )
    with pytest.raises(RunbookError) as caught:
        load_runbooks(books)
    assert "db-lock.md" in str(caught.value)
    assert "'drop-database' is not a catalogue action" in str(caught.value)


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    books = _copy_fixtures(tmp_path / "books")
    text = (books / "db-lock.md").read_text(encoding="utf-8")
    (books / "zz-copy.md").write_text(text)
    with pytest.raises(RunbookError) as caught:
        load_runbooks(books)
    message = str(caught.value)
    assert "zz-copy.md" in message
    assert "'db-lock' already used by" in message
    assert "db-lock.md" in message.split("already used by")[1]


def test_readme_is_not_a_runbook(tmp_path: Path) -> None:
    books = _copy_fixtures(tmp_path / "books")
    (books / "README.md").write_text("# The runbook vocabulary\n\nNot a runbook.\n")
    assert len(load_runbooks(books)) == 4
