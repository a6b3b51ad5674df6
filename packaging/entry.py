"""The frozen application's main script: the `inspector` command, as `pip install` makes it."""
import multiprocessing
import sys

if __name__ == "__main__":
    # A spawned worker (multiprocessing, torch DataLoader) re-runs this executable: run its task and
    # exit here. This call must be in the main script, not a custom runtime hook: those run before
    # PyInstaller's own multiprocessing hook, which is what makes freeze_support() work off Windows.
    multiprocessing.freeze_support()

    from inspector.cli.main import main

    sys.exit(main())
