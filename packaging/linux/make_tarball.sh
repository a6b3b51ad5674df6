#!/usr/bin/env bash
# dist/inspector[-EDITION]-VERSION-linux-ARCH.tar.gz from the one-folder build (`make package` first):
#   NAME/inspector/  the application      NAME/install.sh      per machine or per user, --uninstall
#   NAME/inspector.desktop, inspector.png (menu entry and icon, put in place by install.sh)
# Set INSPECTOR_EDITION=cpu for the CPU-only build (dist/inspector-cpu).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
VERSION=$("$PY" packaging/version.py)
APP=inspector${INSPECTOR_EDITION:+-$INSPECTOR_EDITION}
NAME=$APP-$VERSION-linux-$(uname -m)
[ -x "dist/$APP/inspector" ] || { echo "no dist/$APP — run make package first" >&2; exit 1; }
# Rename on the fly (r: file names, h: hard-link targets; symlink targets inside the bundle are relative).
tar -czf "dist/$NAME.tar.gz" --owner=0 --group=0 \
    --transform="s,^dist/$APP,$NAME/inspector,rh" \
    --transform="s,^packaging/linux/,$NAME/,rh" \
    --transform="s,^resources/icons/,$NAME/,rh" \
    "dist/$APP" packaging/linux/install.sh packaging/linux/inspector.desktop resources/icons/inspector.png
ls -l "dist/$NAME.tar.gz"
