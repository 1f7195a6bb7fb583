"""`rnnlab detect`: streaming scores equal batch scores, `--follow` reads appended lines, bad streams fail clearly."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlab.cli import detect
from rnnlab.cli.main import main

# The `detect` command on a parser of its own (the entry point registers it beside the others), with
# the entry point's error handling: bad input is one line on stderr and status 2.
STANDALONE = ("import argparse, sys\n"
              "from rnnlab.cli import detect\n"
              "parser = argparse.ArgumentParser(prog='rnnlab')\n"
              "detect.add_parser(parser.add_subparsers(dest='command', required=True))\n"
              "args = parser.parse_args(sys.argv[1:])\n"
              "sys.exit(args.run(args))\n")


def run_detect(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rnnlab")
    detect.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["detect", *argv])
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"rnnlab detect: error: {error}", file=sys.stderr)
        return 2


def row(t: int) -> str:
    """Point t of a noisy sine with a jagged burst at 250-253, as a CSV line."""
    noise = 0.2 * np.random.default_rng(t).standard_normal()
    jolt = (6 if t % 2 else -6) if 250 <= t < 254 else 0
    return f"{t},{10 * np.sin(2 * np.pi * t / 20) + noise + jolt:.4f}\n"


def write_rows(path: Path, start: int, stop: int) -> None:
    with path.open("a") as file:
        file.write("".join(row(t) for t in range(start, stop)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("detect")
    data = folder / "stream.csv"
    data.write_text("time,value\n")
    write_rows(data, 0, 300)
    out = folder / "run"
    assert main(["train", "anomaly", "--data", str(data), "--normal-until", "150", "--epochs", "2",
                 "--hidden-size", "8", "--window", "16", "--smooth", "3", "--out", str(out), "--quiet"]) == 0
    return data, out


def batch_scores(out: Path) -> list[list[str]]:
    return [row.split(",") for row in (out / "scores.csv").read_text().splitlines()[1:]]


def assert_equal_to_batch(lines: list[str], batch: list[list[str]]) -> None:
    assert lines[0] == "time,value,score,flag"
    rows = [line.split(",") for line in lines[1:]]
    assert [row[0] for row in rows] == [row[0] for row in batch[: len(rows)]]
    streamed = np.array([float(row[2]) for row in rows])
    np.testing.assert_allclose(streamed, [float(row[2]) for row in batch[: len(rows)]], rtol=0, atol=1e-6)
    assert [row[3] for row in rows] == [row[3] for row in batch[: len(rows)]]
    assert streamed.max() > 0


def test_streaming_scores_equal_the_batch_scores(trained, capsys):
    data, out = trained
    assert run_detect([str(out), "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 301
    assert_equal_to_batch(lines, batch_scores(out))


def test_a_fresh_process_streams_the_same_scores(trained):
    data, out = trained
    result = subprocess.run([sys.executable, "-c", STANDALONE, "detect", str(out), "--data", str(data),
                             "--max-points", "120"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 121
    assert_equal_to_batch(lines, batch_scores(out))


def test_follow_prints_points_as_they_are_appended_until_ctrl_c(trained, tmp_path):
    data, out = trained
    growing = tmp_path / "growing.csv"
    growing.write_text("time,value\n")
    write_rows(growing, 0, 40)
    command = [sys.executable, "-c", STANDALONE, "detect", str(out), "--data", str(growing), "--follow",
               "--interval", "0.02"]
    # Ctrl-C must reach the detector even when this test runs where SIGINT is ignored (a shell's
    # background job is started so), since a child inherits that and Python then keeps it
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(100, process.kill)  # a detector that stopped flushing would block readline
    watchdog.start()
    try:
        lines = [process.stdout.readline().rstrip("\n") for _ in range(41)]   # all there is so far, printed now
        assert lines[-1].startswith("39,") and process.poll() is None        # ... and it waits for more
        with growing.open("a") as file:
            file.write(row(40)[:4])                                            # half a line is not a point yet
        time.sleep(0.1)
        with growing.open("a") as file:
            file.write(row(40)[4:])
        write_rows(growing, 41, 300)
        lines += [process.stdout.readline().rstrip("\n") for _ in range(260)]
        process.send_signal(signal.SIGINT)                                     # Ctrl-C ends a follow session
        rest, errors = process.communicate(timeout=100)
    finally:
        watchdog.cancel()
        process.kill()
    assert process.returncode == 130 and "Traceback" not in errors, errors
    assert rest == ""
    assert_equal_to_batch(lines, batch_scores(out))


def test_follow_in_process_with_a_writer_thread(trained, tmp_path, capsys):
    data, out = trained
    growing = tmp_path / "growing.csv"
    growing.write_text("time,value\n")

    def writer():
        for start in range(0, 90, 30):
            write_rows(growing, start, start + 30)
            time.sleep(0.05)

    thread = threading.Thread(target=writer)
    thread.start()
    status = run_detect([str(out), "--data", str(growing), "--follow", "--interval", "0.01", "--max-points", "90"])
    thread.join()
    assert status == 0
    assert_equal_to_batch(capsys.readouterr().out.splitlines(), batch_scores(out))


def test_missing_values_fail_unless_filled(trained, tmp_path, capsys):
    _, out = trained
    gap = tmp_path / "gap.csv"
    gap.write_text("time,value\n0,1.0\n1,\n2,3.0\n")
    assert run_detect([str(out), "--data", str(gap)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "missing (NaN) at line 3" in error and "--fill" in error
    assert run_detect([str(out), "--data", str(gap), "--fill", "ffill"]) == 0
    assert [line.split(",")[1] for line in capsys.readouterr().out.splitlines()[1:]] == ["1", "1", "3"]


@pytest.mark.parametrize("content, message", [
    ("time,temp,pressure\n0,1,2\n", "has channels ['temp', 'pressure']; the run was trained on ['value']"),
    ("time,value\n", "a series of length 0"),
    ("", "file is empty"),
    ("time,value\n0,abc\n", "non-numeric text 'abc' at line 2"),
])
def test_bad_streams_are_one_line_errors(trained, tmp_path, capsys, content, message):
    _, out = trained
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    assert run_detect([str(out), "--data", str(bad)]) == 2
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert len(error.splitlines()) == 1 and message in error, error
    assert not captured.out.strip() or captured.out.splitlines() == ["time,value,score,flag"]


def test_options_are_checked(trained, capsys):
    data, out = trained
    assert run_detect([str(out), "--data", str(data), "--interval", "0"]) == 2
    assert "interval must be positive (seconds); received 0.0" in capsys.readouterr().err
    assert run_detect([str(out), "--data", str(data), "--max-points", "0"]) == 2
    assert "max_points must be a positive integer or None; received 0" in capsys.readouterr().err


def test_the_entry_point_runs_detect(trained, capsys):
    data, out = trained
    assert main(["detect", str(out), "--data", str(data), "--max-points", "50"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 51
    assert_equal_to_batch(lines, batch_scores(out))
    assert main(["detect", str(out.parent), "--data", str(data)]) == 2     # not a run directory
    assert "has no config.json" in capsys.readouterr().err
