"""The ``omnikanal`` command's entry point: the hub imported with the cyclic garbage
collector off, then its objects frozen out of later collections.

Importing the hub makes about 250,000 objects (modules, classes, SQLAlchemy's tables) that
live as long as the process. While they are made, the collector keeps walking them: about
0.6 s of a command's 1.7 s start here (1.1 s without). Frozen afterwards (``gc.freeze``),
they are no longer walked by the full collections a long command (an import, an export,
the server) triggers. The few cycles importing leaves behind (about 1,200 objects) are
frozen with them: a collection to free them would cost 0.14 s of every start.
"""

import gc


def main() -> None:
    gc.disable()
    try:
        from omnikanal.cli import main as run_command
    finally:
        gc.enable()
    gc.freeze()
    run_command()
