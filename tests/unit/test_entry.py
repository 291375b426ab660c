"""The command's entry point: the hub imported with the collector off, left on after."""

import gc
import subprocess
import sys


def test_the_command_runs_with_the_collector_on_and_the_hub_frozen() -> None:
    probe = (
        "import gc, sys\n"
        "from omnikanal import entry\n"
        "sys.argv = ['omnikanal', '--help']\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit as done:\n"
        "    print('exit', done.code)\n"
        "print('enabled', gc.isenabled(), 'frozen', gc.get_freeze_count() > 100_000)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "Usage: omnikanal" in ran.stdout
    assert "exit 0" in ran.stdout
    assert "enabled True frozen True" in ran.stdout
    assert gc.isenabled()  # this process is untouched
