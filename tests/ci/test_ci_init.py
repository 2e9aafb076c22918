"""`koncept init`: the created client folder checks, formats and tests clean, as created."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.cli.main import main

FILES = [
    ".github/workflows/koncept.yml",
    ".pre-commit-config.yaml",
    "README.md",
    "deals.krl",
    "leads.krl",
    "main.krl",
    "mapping.yaml",
    "pipeline.krl",
    "plans.krl",
    "team.krl",
    "tests/kpis.yaml",
    "tests/leads.yaml",
    "tests/pipeline.yaml",
    "tests/plans.yaml",
]


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _clean(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check --strict`, `fmt --check` and `test` pass on the folder, with nothing to say."""
    capsys.readouterr()
    assert main(["check", "--strict", str(folder)]) == 0
    assert main(["fmt", "--check", str(folder)]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["test", "--fail-on-empty", str(folder)]) == 0
    assert " failed" not in capsys.readouterr().out


def test_init_creates_a_folder_that_checks_formats_and_tests_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "acme_industrie_et_services_du_grand_ouest"]) == 0
    folder = tmp_path / "acme_industrie_et_services_du_grand_ouest"
    assert capsys.readouterr().out.startswith(f"created {folder.name} (14 files)")
    assert _files(folder) == FILES
    main_krl = (folder / "main.krl").read_text(encoding="utf-8")
    assert 'ruleset acme_industrie_et_services_du_grand_ouest "acme_industrie_et' in main_krl
    every = "".join(p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file())
    assert "__client__" not in every and "__koncept_" not in every
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Règles commerciales de acme_industrie_et_services_du_grand_ouest")
    workflow = yaml.safe_load((folder / ".github/workflows/koncept.yml").read_text())
    steps = workflow["jobs"]["koncept"]["steps"]
    assert steps[1]["uses"].startswith("koncept-rules/koncept-rules@")
    assert steps[0]["with"]["fetch-depth"] == 0
    hooks = yaml.safe_load((folder / ".pre-commit-config.yaml").read_text())["repos"][0]
    assert [h["id"] for h in hooks["hooks"]] == ["koncept-fmt", "koncept-check", "koncept-test"]
    _clean(folder, capsys)


def test_init_from_an_existing_ruleset_renames_the_client(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = Path(__file__).parents[2] / "rulesets" / "industrie-services"
    folder = tmp_path / "clients" / "acme"
    code = main(
        ["init", "acme", "--from", str(template), "--dir", str(folder), "--koncept-repo", "x/y"]
    )
    assert code == 0
    copied = [p for p in _files(template) if "__pycache__" not in p]
    assert _files(folder) == sorted(
        {*copied, ".github/workflows/koncept.yml", ".pre-commit-config.yaml", "README.md"}
    )
    main_krl = (folder / "main.krl").read_text(encoding="utf-8")
    original = (template / "main.krl").read_text(encoding="utf-8")
    assert main_krl == original.replace("ruleset industrie_services ", "ruleset acme ")
    assert (folder / "plans.krl").read_bytes() == (template / "plans.krl").read_bytes()
    assert "uses: x/y@" in (folder / ".github/workflows/koncept.yml").read_text()
    _clean(folder, capsys)


def test_init_refuses_a_folder_that_is_not_empty_and_fills_an_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "notes.txt").write_text("à garder")
    assert main(["init", "acme", "--dir", str(folder)]) == 2
    assert capsys.readouterr().err == (
        f"error: {folder} already exists and is not empty: nothing was written\n"
    )
    assert _files(folder) == ["notes.txt"]
    (folder / "notes.txt").unlink()
    assert main(["init", "acme", "--dir", str(folder)]) == 0
    assert _files(folder) == FILES
    assert [p.name for p in tmp_path.iterdir()] == ["acme"]  # no staging folder left


@pytest.mark.parametrize(
    ("client", "suggestion"),
    [("acme-corp", "acme_corp"), ("3m", "client_3m"), ("Été 2026", "Ete_2026"), ("-", "client")],
)
def test_init_refuses_a_client_id_that_is_not_an_identifier(
    client: str, suggestion: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", client, "--dir", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == (
        f"error: {client!r} is not a valid client id (letters, digits and `_`, not starting "
        f"with a digit); try `{suggestion}`\n"
    )
    assert not (tmp_path / "x").exists()


def test_init_from_a_ruleset_with_errors_or_no_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "main.krl").write_text(
        'ruleset b "B" {\n  currency EUR\n}\nkpi x "X" family volume on deal = sum(amout)\n'
    )
    assert main(["init", "acme", "--from", str(broken), "--dir", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --from {broken}: the ruleset has errors; fix them first:\n")
    assert "error[E201]" in err
    assert main(["init", "acme", "--from", str(tmp_path / "nope"), "--dir", "a"]) == 2
    assert capsys.readouterr().err == f"error: --from {tmp_path / 'nope'}: not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


def test_init_from_a_client_of_a_template_keeps_its_extends_path_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "house"]) == 0
    header = Path("house/main.krl")
    text = header.read_text(encoding="utf-8")
    header.write_text(
        text.replace('ruleset house "house" {', 'ruleset house "house" {\n  template')
    )
    client = Path("clients/a")
    client.mkdir(parents=True)
    (client / "main.krl").write_text('ruleset a "A" {\n  extends "../../house"\n}\n')
    assert main(["init", "b", "--from", "clients/a", "--dir", "other/deeper/b"]) == 0
    copied = Path("other/deeper/b/main.krl").read_text(encoding="utf-8")
    assert copied == 'ruleset b "A" {\n  extends "../../../house"\n}\n'
    capsys.readouterr()
    assert main(["check", "--strict", "other/deeper/b"]) == 0
    assert main(["fmt", "--check", "other/deeper/b"]) == 0
    assert capsys.readouterr() == ("", "")


def test_init_from_a_house_template_makes_a_client_that_extends_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    house = Path(__file__).resolve().parents[2] / "rulesets" / "house"
    shutil.copytree(house, tmp_path / "practice" / "house")
    folder = tmp_path / "practice" / "clients" / "acme"
    assert main(["init", "acme", "--from", str(tmp_path / "practice" / "house"),
                 "--dir", str(folder)]) == 0  # fmt: skip
    assert (
        (folder / "main.krl")
        .read_text(encoding="utf-8")
        .endswith('ruleset acme "acme" {\n  extends "../../house"\n}\n')
    )
    assert "tests/deals.yaml" in _files(folder) and "README.md" in _files(folder)
    _clean(folder, capsys)
    # The client has the house's rules: a change there is a change for it.
    capsys.readouterr()
    assert main(["check", "--deviations", str(folder)]) == 0
    assert capsys.readouterr().out.endswith("extends ../../house: no item differs\n")
