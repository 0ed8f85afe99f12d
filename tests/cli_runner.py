"""Run the command line in this process, for tests: ``run_cli(args, capsys)``."""

from digitlab.cli import main


def run_cli(args, capsys) -> tuple[int, str, str]:
    """Run ``digitlab ARGS`` in-process: (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err
