#!/bin/sh
# Install Inspector from this unpacked tarball, then run its self-test.
#   sudo ./install.sh              per machine: /opt/inspector, menu entry for every user, /usr/local/bin/inspector
#   ./install.sh                   this user only: ~/.local/opt/inspector, ~/.local/share/applications, ~/.local/bin
#   [sudo] ./install.sh --uninstall   removes exactly what the install made (projects and settings stay)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
    PREFIX=/opt/inspector; SHARE=/usr/share; BIN=/usr/local/bin
else
    PREFIX=$HOME/.local/opt/inspector; SHARE=$HOME/.local/share; BIN=$HOME/.local/bin
fi
DESKTOP=$SHARE/applications/inspector.desktop
ICON=$SHARE/icons/hicolor/256x256/apps/inspector.png

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$PREFIX"
    rm -f "$DESKTOP" "$ICON"
    [ -L "$BIN/inspector" ] && rm -f "$BIN/inspector"
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$SHARE/applications" || true
    echo "Inspector removed from $PREFIX"
    exit 0
fi

rm -rf "$PREFIX"
mkdir -p "$PREFIX" "$(dirname "$DESKTOP")" "$(dirname "$ICON")" "$BIN"
cp -a "$HERE/inspector/." "$PREFIX/"
cp "$HERE/inspector.png" "$ICON"
sed -e "s|^Exec=.*|Exec=$PREFIX/inspector|" -e "s|^TryExec=.*|TryExec=$PREFIX/inspector|" \
    "$HERE/inspector.desktop" > "$DESKTOP"
ln -sf "$PREFIX/inspector" "$BIN/inspector"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$SHARE/applications" || true

echo "Inspector installed in $PREFIX; checking it (about a minute) ..."
if "$PREFIX/inspector" --self-test > "$PREFIX.selftest.log" 2>&1; then
    rm -f "$PREFIX.selftest.log"
    echo "self-test passed. Start Inspector from the applications menu, or run: inspector"
else
    echo "the self-test FAILED — details in $PREFIX.selftest.log" >&2
    exit 1
fi
