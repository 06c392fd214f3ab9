"""`nurturehub leads list`, options after the command, and one-line errors (issue 15, item 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.cli import main
from hub.store import Store
from hub.store.crypto import new_key
from hub.store.models import AuditRow


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NURTUREHUB_DATA_KEY", new_key())  # no "key file in the instance folder" warning
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert main(["--database-url", url, "init"]) == 0
    return ["--database-url", url]


def _add(db: list[str], first: str, last: str, phone: str, text: str) -> None:
    argv = ["leads", "add", *db, "--first-name", first, "--last-name", last, "--phone", phone, "--text", text]
    assert main(argv) == 0


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_the_list_shows_leads_newest_first_in_words_and_searches_by_name_phone_and_email(
    db: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _add(db, "Ana", "Lopez", "(512) 555-0142", "necesito una cita para la proxima semana")
    _add(db, "Bob", "Ray", "(512) 555-0143", "crushing chest pain since this morning")
    capsys.readouterr()

    assert main(["leads", "list", *db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "URGENT Bob Ray" in lines[0] and "Clinical question" in lines[0]  # newest first, in words
    assert "Ana Lopez" in lines[1] and "Ready to schedule" in lines[1] and "ready_to_schedule" not in lines[1]

    by_name = _json(capsys, "leads", "list", *db, "--search", "lopez", "--json")
    assert [r["name"] for r in by_name["leads"]] == ["Ana Lopez"]  # type: ignore[attr-defined, index]
    assert by_name["searched_by"] == "name"
    by_phone = _json(capsys, "leads", "list", *db, "--search", "512-555-0143", "--json")
    assert [r["name"] for r in by_phone["leads"]] == ["Bob Ray"]  # type: ignore[attr-defined, index]
    assert _json(capsys, "leads", "list", *db, "--urgent", "--json")["leads"] == by_phone["leads"]


def test_a_search_is_audited_without_its_text(db: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _add(db, "Ana", "Lopez", "(512) 555-0142", "una cita por favor")
    _json(capsys, "leads", "list", *db, "--search", "Lopez", "--json")
    store = Store(db[1])
    try:
        with store.read() as session:
            details = session.scalars(select(AuditRow.detail).where(AuditRow.action == "lead.search")).all()
    finally:
        store.dispose()
    assert len(details) == 1
    assert "Lopez" not in json.dumps(details[0]) and details[0]["by"] == "name"


def test_the_list_pages_with_a_cursor(db: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(3):
        _add(db, f"P{n}", "Test", f"(512) 555-014{n}", "I would like an appointment")
    first = _json(capsys, "leads", "list", *db, "--limit", "2", "--json")
    assert len(first["leads"]) == 2 and first["next_cursor"]  # type: ignore[arg-type]
    rest = _json(capsys, "leads", "list", *db, "--limit", "2", "--after", str(first["next_cursor"]), "--json")
    assert len(rest["leads"]) == 1 and rest["next_cursor"] is None  # type: ignore[arg-type]
    names = [r["name"] for r in [*first["leads"], *rest["leads"]]]  # type: ignore[misc, index]
    assert sorted(names) == ["P0 Test", "P1 Test", "P2 Test"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--stage", "bogus"], "the stage filter has a value the list does not know"),
        (["--limit", "0"], "--limit must be from 1 to 1000"),
        (["--after", "not-a-cursor"], "the page link is malformed"),
    ],
)
def test_a_bad_filter_is_named_in_one_line(
    db: list[str], capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    capsys.readouterr()
    assert main(["leads", "list", *db, *argv]) == 1
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1


def test_global_options_are_accepted_after_the_command(db: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _add(db, "Ana", "Lopez", "(512) 555-0142", "una cita por favor")
    after = _json(capsys, "leads", "list", "--json", *db)
    assert [r["name"] for r in after["leads"]] == ["Ana Lopez"]  # type: ignore[attr-defined, index]
    assert main(["migrate", "--check", *db]) == 0
    assert main(["leads", "overdue", "--json", "-v", *db]) == 0


def test_an_unexpected_error_is_one_line_without_its_text(
    db: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.coordinator.worklist

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("INSERT INTO leads VALUES ('Ana', '+15125550142')")  # what a driver error can say

    monkeypatch.setattr(hub.coordinator.worklist, "search_leads", broken)
    capsys.readouterr()
    assert main(["leads", "list", *db]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "nurturehub leads list: unexpected error (RuntimeError); run it again with -v for the details"
    ]
    with pytest.raises(RuntimeError):
        main(["leads", "list", *db, "-v"])


def test_a_command_never_makes_a_store_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only `init` and `run` make a store; another command on a missing one says what to do."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NURTUREHUB_DATA_KEY", new_key())
    missing = tmp_path / "elsewhere.sqlite3"
    for argv in (["leads", "list"], ["leads", "overdue"], ["leads", "show", "nh_x"]):
        capsys.readouterr()
        assert main([*argv, "--database-url", f"sqlite:///{missing}"]) == 2
        assert f"there is no database at {missing}: run `nurturehub init` first" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "instance").exists()
    assert main(["init", "--database-url", f"sqlite:///{missing}"]) == 0
    assert main(["leads", "list", "--database-url", f"sqlite:///{missing}"]) == 0
