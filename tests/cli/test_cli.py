"""The command line as a new user meets it: --version, --help, one-line errors, pipes that close early."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rnnlab
from rnnlab.cli.main import main


def run(*argv: str, shell: str | None = None) -> subprocess.CompletedProcess:
    command = shell if shell is not None else [sys.executable, "-m", "rnnlab", *argv]
    return subprocess.run(command, capture_output=True, text=True, shell=shell is not None, timeout=120)


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"rnnlab {rnnlab.__version__}"


def test_an_invalid_choice_is_one_line_naming_the_value_and_the_choices(capsys):
    # argparse prints its whole usage (19 lines for train forecast) before such an error
    with pytest.raises(SystemExit) as done:
        main(["train", "forecast", "--model", "transformer9"])
    error = capsys.readouterr().err
    assert done.value.code == 2 and error.count("\n") == 1, error
    assert "'transformer9'" in error and "'rnn', 'lstm', 'gru'" in error and "rnnlab train forecast --help" in error


def test_help_lists_the_choices_of_a_setting(capsys):
    with pytest.raises(SystemExit):
        main(["train", "classify-text", "--help"])
    text = capsys.readouterr().out
    assert "--model {rnn,lstm,gru}" in text and "--pooling {last,mean,max}" in text


@pytest.mark.parametrize("command", [[], ["train", "forecast"], ["evaluate"], ["predict"], ["compare", "adding"],
                                     ["datasets"], ["demo"]])
def test_every_command_has_help(command):
    done = run(*command, "--help")
    assert done.returncode == 0 and "usage: rnnlab" in done.stdout, (command, done.stderr)


def test_a_pipe_that_closes_early_ends_the_command_quietly():
    done = run(shell=f"{sys.executable} -m rnnlab datasets | head -n 1")
    assert done.returncode == 0 and done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr


def test_a_csv_that_is_not_utf8_is_named_with_its_line(tmp_path, capsys):
    data = tmp_path / "sales.csv"
    data.write_bytes("date,sales\n2020-01-01,1\n2020-01-02,caf\xe9\n".encode("latin-1"))
    assert main(["train", "forecast", "--data", str(data), "--target", "sales", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(data) in error and "not UTF-8" in error and "line 3" in error


def test_export_refuses_an_unknown_format_in_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "tflite"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "format must be one of ['onnx']; received 'tflite'" in error
    assert main(["export", str(tmp_path / "missing")]) == 2
    assert "has no config.json" in capsys.readouterr().err


def test_the_demo_s_help_says_how_long_it_takes(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "About 6 minutes on 2 CPU cores" in text and "about 2 minutes" in text
