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

# The system libraries Qt's X11 plugin links (README.md; the bundle carries the xcb ones, not OpenGL or
# fontconfig). As root with apt: installed. Otherwise: the one line to run, when one is missing.
PACKAGES="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0
          libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-shm0 libxcb-xkb1 libx11-xcb1 libxkbcommon-x11-0
          libegl1 libgl1 libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${INSPECTOR_NO_APT:-}" ]; then
    echo "Installing the system libraries the window needs (apt-get) ..."
    # shellcheck disable=SC2086
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null; then
        echo "apt-get could not install them — run: apt-get update && apt-get install -y $(echo $PACKAGES)" >&2
        exit 1
    fi
fi

rm -rf "$PREFIX"
mkdir -p "$PREFIX" "$(dirname "$DESKTOP")" "$(dirname "$ICON")" "$BIN"
cp -a "$HERE/inspector/." "$PREFIX/"
cp "$HERE/inspector.png" "$ICON"
sed -e "s|^Exec=.*|Exec=$PREFIX/inspector|" -e "s|^TryExec=.*|TryExec=$PREFIX/inspector|" \
    "$HERE/inspector.desktop" > "$DESKTOP"
ln -sf "$PREFIX/inspector" "$BIN/inspector"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$SHARE/applications" || true

# Qt's X11 plugin in the bundle, with the bundle's own libraries first (as its launcher sets them).
PLUGIN=$(find "$PREFIX" -path "*/platforms/libqxcb.so" | head -n 1)
if [ -n "$PLUGIN" ] && command -v ldd >/dev/null 2>&1; then
    LIBDIR=$(dirname "$(find "$PREFIX" -name base_library.zip | head -n 1)")
    MISSING=$(LD_LIBRARY_PATH="$LIBDIR" ldd "$PLUGIN" | awk '/=> not found/ {print $1}' | sort -u | tr '\n' ' ')
    if [ -n "$MISSING" ]; then
        # shellcheck disable=SC2086
        echo "note: the window needs system libraries this computer lacks (${MISSING% }) — install them with:" \
             "sudo apt-get install -y $(echo $PACKAGES)" >&2
    fi
fi

echo "Inspector installed in $PREFIX; checking it (about a minute) ..."
if "$PREFIX/inspector" --self-test > "$PREFIX.selftest.log" 2>&1; then
    rm -f "$PREFIX.selftest.log"
    echo "self-test passed. Start Inspector from the applications menu, or run: inspector"
else
    echo "the self-test FAILED — details in $PREFIX.selftest.log" >&2
    exit 1
fi
