"""`koncept --version` and `koncept completion SHELL`.

The version is the installed package's; the completion scripts come from the parser itself, so
they are checked against it: every subcommand, `--version`, and file-name completion where an
argument is a path. The bash script is run in a real bash.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import shtab

import engine.cli.main
from engine.cli.completion import SHELLS
from engine.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
VERSION = importlib.metadata.version("koncept-rules")
BASH = shutil.which("bash")


def subcommands() -> list[str]:
    """The subcommands the parser has, in help order."""
    parser = build_parser()
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def test_the_version_is_the_installed_packages(capsys: pytest.CaptureFixture[str]) -> None:
    assert VERSION[:1].isdigit()
    assert main(["--version"]) == 0
    out, err = capsys.readouterr()
    assert out == f"koncept {VERSION}\n"
    assert err == ""


def test_the_version_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"koncept {VERSION}\n", "")


def test_the_version_is_looked_up_only_for_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Other commands do not pay for importlib.metadata.
    def fail() -> str:
        raise AssertionError("version looked up")

    monkeypatch.setattr(engine, "installed_version", fail)
    assert main(["completion", "tcsh"]) == 0
    assert "koncept" in capsys.readouterr().out


def test_an_uninstalled_package_has_an_unknown_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == "koncept unknown\n"


def test_the_help_lists_version_and_completion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--version" in out
    assert "completion" in out


def test_every_shell_offered_is_one_shtab_writes() -> None:
    assert set(SHELLS) <= set(shtab.SUPPORTED_SHELLS)


@pytest.mark.parametrize("shell", SHELLS)
def test_the_script_names_every_subcommand_and_version(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", shell]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    # tcsh's script lists long options without their dashes: `c/--/(... version ...)/`
    assert (" version" if shell == "tcsh" else "--version") in out
    names = subcommands()
    assert {"check", "fmt", "eval", "test", "demo", "completion"} <= set(names)
    for name in names:
        assert name in out, name


def test_the_zsh_script_is_a_zsh_completion_function(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#compdef koncept\n")
    # --out DIR completes folders only, ruleset paths complete any file
    assert shtab.DIRECTORY["zsh"] in out
    assert shtab.FILE["zsh"] in out


@pytest.mark.parametrize("argv", [["completion", "fish"], ["completion"], ["completion", ""]])
def test_an_unknown_or_missing_shell_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: koncept completion")


def test_building_the_parser_does_not_import_shtab() -> None:
    code = (
        "import sys\n"
        "from engine.cli.main import build_parser\n"
        "build_parser()\n"
        "print('shtab' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout == "False\n"


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bash script as `koncept completion bash` prints it, in a file."""
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    path = tmp_path_factory.mktemp("completion") / "koncept.bash"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def complete(script: Path, words: list[str], cwd: Path) -> list[str]:
    """What bash offers for the last of `words`, with the script sourced as a user would."""
    line = " ".join(shlex.quote(word) for word in words)
    program = f"""
source {shlex.quote(str(script))}
function=$(complete -p koncept | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
COMP_WORDS=({line})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
COMPREPLY=()
"$function" koncept "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    assert BASH is not None
    done = subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    return sorted(filter(None, done.stdout.splitlines()))


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_the_bash_script_is_valid_bash(bash_script: Path) -> None:
    assert BASH is not None
    done = subprocess.run([BASH, "-n", str(bash_script)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_completes_subcommands_options_and_shells(bash_script: Path, tmp_path: Path) -> None:
    assert complete(bash_script, ["koncept", "c"], tmp_path) == ["check", "completion"]
    assert complete(bash_script, ["koncept", "--ver"], tmp_path) == ["--version"]
    assert complete(bash_script, ["koncept", "completion", ""], tmp_path) == sorted(SHELLS)
    assert complete(bash_script, ["koncept", "check", "--str"], tmp_path) == ["--strict"]


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_completes_paths(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules.krl").write_text("", encoding="utf-8")
    # a ruleset is a folder or a .krl file; --out DIR is a folder
    assert complete(bash_script, ["koncept", "check", "ru"], tmp_path) == ["rules", "rules.krl"]
    assert complete(bash_script, ["koncept", "demo", "x", "--out", "ru"], tmp_path) == ["rules"]
    assert complete(bash_script, ["koncept", "eval", "x", "--leads", "ru"], tmp_path) == [
        "rules",
        "rules.krl",
    ]
