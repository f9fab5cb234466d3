#!/usr/bin/env bash
# Installs the tools that `just bench-peers` compares plantdb with, from their package
# registries, into one local directory (default: .peers/ at the repository root, gitignored):
#   - sqlx-cli and refinery_cli with `cargo install --locked`, PostgreSQL support only;
#   - dbmate from the npm registry (@dbmate/linux-<arch> ships the binary).
# Already installed tools of the pinned version are kept, so running it again is cheap.
#
# Usage: scripts/bench-peers-setup.sh [DIR]
set -euo pipefail

SQLX_VERSION=0.9.0
REFINERY_VERSION=0.10.0
DBMATE_VERSION=2.36.0

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/.peers}"
mkdir -p "$dir/bin"
dir="$(cd "$dir" && pwd)"

# The cargo builds are long and CPU-heavy; keep the machine usable meanwhile.
nice_cargo() { nice -n 19 cargo "$@"; }

# `cargo install` skips a crate whose version is already in `$dir`.
echo "sqlx-cli $SQLX_VERSION (postgres, rustls)"
nice_cargo install --locked --root "$dir" --version "$SQLX_VERSION" \
    --no-default-features --features postgres,rustls sqlx-cli

# refinery_cli's `postgresql` is its PostgreSQL driver; plantdb's versions are 14-digit
# timestamps, which only fit refinery's 64-bit versions.
echo "refinery_cli $REFINERY_VERSION (postgresql, int8-versions)"
nice_cargo install --locked --root "$dir" --version "$REFINERY_VERSION" \
    --no-default-features --features postgresql,int8-versions refinery_cli

case "$(uname -m)" in
    x86_64) dbmate_pkg=@dbmate/linux-x64 ;;
    aarch64) dbmate_pkg=@dbmate/linux-arm64 ;;
    *) echo "no dbmate package for $(uname -m)" >&2; exit 1 ;;
esac
if ! "$dir/bin/dbmate" --version 2>/dev/null | grep -q "$DBMATE_VERSION"; then
    echo "dbmate $DBMATE_VERSION ($dbmate_pkg)"
    npm install --silent --no-audit --no-fund --prefix "$dir/npm" "$dbmate_pkg@$DBMATE_VERSION"
    ln -sf "$dir/npm/node_modules/$dbmate_pkg/bin/dbmate" "$dir/bin/dbmate"
fi

"$dir/bin/sqlx" --version
"$dir/bin/refinery" --version
"$dir/bin/dbmate" --version
echo "peers installed in $dir/bin"
