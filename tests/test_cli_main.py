"""The command line as a whole: every documented command is there and explains itself."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digitlab.cli import COMMANDS, cli

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_the_readme_uses_exists():
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL))
    used = set(re.findall(r"^digitlab (\w+)", blocks, flags=re.MULTILINE))
    assert used  # the README's tour names commands
    assert used <= set(COMMANDS), used - set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_top_level_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "digitlab", "--help"], capture_output=True,
                            text=True, check=True)
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\b", result.stdout, flags=re.MULTILINE), name


def test_every_long_running_command_has_the_same_progress_and_quiet_flags():
    from digitlab.cli import cli

    for name in ("train", "report", "analyze", "dream", "sweep"):
        command = cli.get_command(None, name)
        flags = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        assert {"--progress", "--no-progress", "--quiet", "-q"} <= flags, name
