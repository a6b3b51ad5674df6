"""Running the real `inspector` command from the end-to-end tests."""
import json
import subprocess
import sys

CMD = [sys.executable, "-m", "inspector.cli.main"]


def inspector(*args, check=True, timeout=600):
    out = subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"inspector {' '.join(map(str, args))} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out


def last_json(out) -> dict:
    return json.loads(out.stdout.strip().splitlines()[-1])
