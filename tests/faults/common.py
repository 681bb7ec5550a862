"""What the fault tests share."""

from __future__ import annotations

from experiments import cli


def bad_input(argv: list[str], capsys, expected: str, code: int = 2) -> str:
    """Runs the command line, asserts its exit code and that stderr holds ``expected``
    without a traceback; returns stderr."""
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err
    return err
