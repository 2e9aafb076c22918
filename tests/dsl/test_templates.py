"""House templates: a client `extends` a ruleset folder and changes items with `override`.
Real folders in a temporary directory, loaded the way `koncept check` and `eval` load them."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from dsl.workspace import load_workspace
from engine.cli.main import main
from engine.loader import RulesetError, load

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
LETTERS = ("metrics", "economic_buyer", "decision_criteria", "decision_process", "paper_process",
           "identify_pain", "champion", "competition")  # fmt: skip


@pytest.fixture
def practice(tmp_path: Path) -> Path:
    """A copy of the practice: the house template and the two clients that extend it."""
    for name in ("house", "fintech", "contech-saas"):
        shutil.copytree(RULESETS / name, tmp_path / name)
    return tmp_path


def meddpicc_deal(points: int) -> dict[str, object]:
    """An open 80K new-logo deal (MEDDPICC for both clients) whose letters sum to `points`."""
    letters = [2] * (points // 2) + [points % 2] + [0] * 8
    deal: dict[str, object] = {"id": "D1", "status": "open", "type": "new_logo", "amount": 80000}
    deal.update({f"m_{name}": value for name, value in zip(LETTERS, letters, strict=False)})
    return deal


def status(folder: Path, points: int) -> str | None:
    return load(folder).evaluate_deal(meddpicc_deal(points)).qualification_status


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def findings(*paths: Path) -> list[tuple[str, str, str, str | None]]:
    """(code, place `folder/file:line`, message, help) of every finding."""
    workspace = load_workspace(list(paths))
    return [
        (
            d.code,
            f"{Path(d.span.path).parent.name}/{Path(d.span.path).name}:{d.span.line}",
            d.message,
            d.help,
        )
        for d in workspace.diagnostics
    ]


# ----------------------------------------------------------------------------- meaning
def test_a_change_in_the_house_reaches_every_client_that_does_not_override_it(
    practice: Path,
) -> None:
    assert [status(practice / c, 13) for c in ("fintech", "contech-saas")] == ["medium"] * 2
    edit(
        practice / "house" / "deals.krl",
        'strong "Fort" when score >= 14',
        'strong "Fort" when score >= 12',
    )
    assert [status(practice / c, 13) for c in ("fintech", "contech-saas")] == ["strong"] * 2
    # contech overrides one status of the score: the rest of the grid stays the house's.
    with (practice / "contech-saas" / "deals.krl").open("a", encoding="utf-8") as out:
        out.write(
            '\noverride score meddpicc on deal {\n  status { strong "Fort" when score >= 15 }\n}\n'
        )
    assert status(practice / "fintech", 13) == "strong"
    assert [status(practice / "contech-saas", p) for p in (13, 14, 15, 7)] == [
        "medium", "medium", "strong", "weak",
    ]  # fmt: skip


def test_deviations_list_each_override_with_both_sides(
    practice: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (practice / "contech-saas" / "deals.krl").open("a", encoding="utf-8") as out:
        out.write(
            '\noverride score meddpicc on deal {\n  champion "Champion" -> m_economic_buyer\n}\n'
        )
    assert main(["check", "--deviations", "--format", "json", str(practice)]) == 0
    report = json.loads(capsys.readouterr().out)
    by_ruleset = {Path(r["ruleset"]).name: r for r in report["rulesets"]}
    assert set(by_ruleset) == {"contech-saas", "fintech"}  # the house extends nothing
    assert by_ruleset["fintech"]["deviations"] == []
    rows = {d["item"]: d for d in by_ruleset["contech-saas"]["deviations"]}
    champion = rows["score meddpicc › criterion champion"]
    assert champion["template"] == 'champion "Champion" -> m_champion'
    assert champion["client"] == 'champion "Champion" -> m_economic_buyer'
    assert champion["template_at"].endswith("house/deals.krl:39")
    assert champion["client_at"].endswith("contech-saas/deals.krl:45")
    probability = rows["pipeline sales › stage detection › probability"]
    assert (probability["template"], probability["client"]) == (None, "probability 5%")
    assert rows["qualify deal"]["client"].splitlines()[1] == "  use bant when amount < 50K"
    # As text: the item, then each side with its place.
    assert main(["check", "--deviations", str(practice / "contech-saas")]) == 0
    text = capsys.readouterr().out
    assert "  score meddpicc › criterion champion\n    template  " in text
    assert 'house/deals.krl:39  champion "Champion" -> m_champion\n' in text


def test_a_new_stage_goes_where_the_client_writes_it(practice: Path) -> None:
    pipeline = practice / "contech-saas" / "pipeline.krl"
    edit(pipeline, "  stage discovery {",
         '  stage scoping "Cadrage" {\n    exit scoped "Cadré": stakes_quantified\n  }\n'
         "  stage discovery {")  # fmt: skip
    edit(pipeline, "  stage detection {",
         '  stage prospecting "Prospection" {\n    exit contact "Contact": demo_done\n  }\n'
         "  stage detection {")  # fmt: skip
    program = load(practice / "contech-saas")
    stages = [stage.name.name for stage in program.model.pipelines["sales"].stages]
    assert stages == ["prospecting", "detection", "qualification", "scoping", "discovery",
                      "demo", "proposal", "negotiation", "signature"]  # fmt: skip


def test_declaration_and_file_order_do_not_change_the_merge(practice: Path) -> None:
    deal = meddpicc_deal(13)
    wanted = load(practice / "contech-saas").evaluate_deal(deal)
    files = sorted((practice / "contech-saas").glob("*.krl"))
    texts = {f.name: f.read_text(encoding="utf-8") for f in files}
    for order in itertools.islice(itertools.permutations(sorted(texts)), 4):
        # The loader reads files in name order: a numbered prefix sets the order.
        for path in (practice / "contech-saas").glob("*.krl"):
            path.unlink()
        for index, name in enumerate(order):
            (practice / "contech-saas" / f"{index}_{name}").write_text(texts[name], "utf-8")
        assert load(practice / "contech-saas").evaluate_deal(deal) == wanted


# ----------------------------------------------------------------------------- bad input
def test_an_override_of_nothing_suggests_the_templates_item(practice: Path) -> None:
    with (practice / "fintech" / "deals.krl").open("a", encoding="utf-8") as out:
        out.write(
            '\noverride score medpicc on deal {\n  status { strong "Fort" when score >= 15 }\n}\n'
        )
    assert findings(practice / "fintech") == [
        ("E217", "fintech/deals.krl:10", "override of an unknown score `medpicc`",
         "did you mean `meddpicc`?"),
    ]  # fmt: skip


def test_an_override_of_another_kind_names_both(practice: Path) -> None:
    with (practice / "fintech" / "deals.krl").open("a", encoding="utf-8") as out:
        out.write("\noverride kpi meddpicc on deal = count()\n")
    [(code, _, message, help_text)] = findings(practice / "fintech")
    assert (code, message) == (
        "E217", "the templates declare `meddpicc` as `score meddpicc`, not as a kpi",
    )  # fmt: skip
    assert help_text == "write `override score meddpicc ...`, or remove `override`"


def test_redeclaring_a_template_item_without_override_says_how(practice: Path) -> None:
    with (practice / "fintech" / "deals.krl").open("a", encoding="utf-8") as out:
        out.write("\nqualify deal {\n  use meddpicc otherwise\n}\n")
    [(code, where, message, help_text)] = findings(practice / "fintech")
    assert (code, where, message) == (
        "E207", "fintech/deals.krl:10", "`qualify deal` is already declared by template `../house`",
    )  # fmt: skip
    assert help_text is not None and help_text.startswith("write `override qualify deal ...`")


def test_templates_that_extend_each_other_are_refused(practice: Path) -> None:
    edit(practice / "house" / "main.krl", "  template\n", '  template\n  extends "../fintech"\n')
    [(code, where, message, _)] = findings(practice / "fintech")
    assert (code, where) == ("E218", "house/main.krl:6")
    fintech, house = (practice / "fintech").resolve(), (practice / "house").resolve()
    assert message == f"templates extend each other: {fintech} -> {house} -> {fintech}"


def test_a_missing_template_is_located_at_its_path(practice: Path) -> None:
    edit(practice / "fintech" / "main.krl", 'extends "../house"', 'extends "../hous"')
    [(code, where, message, help_text)] = findings(practice / "fintech")
    assert (code, where) == ("E219", "fintech/main.krl:7")
    assert message.startswith("template `../hous` is not a folder")
    assert help_text is not None and "relative to this ruleset's folder" in help_text


def test_a_broken_template_is_reported_in_its_own_file(practice: Path) -> None:
    edit(practice / "house" / "deals.krl", "score meddpicc", "score meddpicc meddpicc")
    [(code, where, _, _)] = findings(practice / "fintech")
    assert (code, where) == ("E101", "house/deals.krl:32")
    with pytest.raises(RulesetError):
        load(practice / "fintech")


def test_two_templates_declaring_one_id_must_be_settled_by_the_client(practice: Path) -> None:
    shutil.copytree(practice / "house", practice / "other")
    edit(practice / "other" / "main.krl", "ruleset house", "ruleset other")
    for name in ("pipeline.krl",):
        (practice / "other" / name).unlink()
    edit(practice / "fintech" / "main.krl", 'extends "../house"', 'extends "../house", "../other"')
    found = findings(practice / "fintech")
    assert {(code, where.split(":")[0]) for code, where, _, _ in found} == {
        ("E207", "other/deals.krl")
    }
    assert any(m == "`score meddpicc` is declared by two templates: `../house` and `../other`"
               for _, _, m, _ in found)  # fmt: skip


def test_the_house_is_clean_alone_and_its_tables_need_no_use(practice: Path) -> None:
    (practice / "house" / "curves.krl").write_text(
        "curve standard { below 80% pay 0%  at 100% pay 100% }\n", encoding="utf-8"
    )
    assert findings(practice / "house", practice / "fintech") == []
    strict = load_workspace([practice / "fintech"], strict=True)
    assert strict.diagnostics == ()
