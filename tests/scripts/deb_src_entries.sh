#!/usr/bin/env bash
# scripts/deb-src-entries on made-up apt configurations: the deb-src entries
# it derives keep each Debian entry's own mirror, suites, components and
# keyring, in both source formats, and leave out disabled entries and other
# distributions' repositories.
set -euo pipefail
script=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1: a one-line sources.list with local (file:) mirrors and options, plus deb822
# files: a disabled entry, a third-party repository, a deb-src-only one.
a=$work/a
mkdir -p "$a/sources.list.d"
cat >"$a/sources.list" <<'L'
# a comment
deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] file:/srv/mirror/debian bookworm main contrib  # trailing
deb file:/srv/proxy/debian-security bookworm-security main
deb file:/srv/mirror/debian sid main
L
cat >"$a/sources.list.d/extra.sources" <<'L'
Types: deb
URIs: file:/srv/offline/debian
Suites: bookworm-updates
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
Enabled: no
URIs: file:/srv/disabled/debian
Suites: bookworm
Components: main

Types: deb-src
URIs: file:/srv/src-only/debian
Suites: bookworm
Components: main
L
cat >"$a/sources.list.d/nodesource.sources" <<'L'
Types: deb
URIs: file:/srv/deb.nodesource/node_20.x
Suites: nodistro
Components: main
L
got=$("$script" "$a" bookworm)
want='Types: deb-src
URIs: file:/srv/mirror/debian
Suites: bookworm
Components: main contrib
Signed-By: /etc/apt/keyrings/mirror.gpg

Types: deb-src
URIs: file:/srv/proxy/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: file:/srv/offline/debian
Suites: bookworm-updates
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
[ "$got" = "$want" ] || fail "case 1: got
$got
--- want
$want"

# 2: deb822 with two types and an inline key continued over several lines.
b=$work/b
mkdir -p "$b/sources.list.d"
cat >"$b/sources.list.d/debian.sources" <<'L'
Types: deb deb-src
URIs: file:/srv/deb/debian
Suites: bookworm
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGDUMMY
 -----END PGP PUBLIC KEY BLOCK-----
L
got=$("$script" "$b" bookworm)
want='Types: deb-src
URIs: file:/srv/deb/debian
Suites: bookworm
Components: main
Signed-By: 
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGDUMMY
 -----END PGP PUBLIC KEY BLOCK-----'
[ "$got" = "$want" ] || fail "case 2: got
$got"

# 3: nothing to copy: no output, and setup's caller reports that.
c=$work/c
mkdir -p "$c/sources.list.d"
cp "$a/sources.list.d/nodesource.sources" "$c/sources.list.d/"
[ -z "$("$script" "$c" bookworm)" ] || fail "case 3: entries printed for a machine with no Debian entry"
[ -z "$("$script" "$work/none" bookworm)" ] || fail "case 3: entries printed for a missing directory"
"$script" "$c" 2>/dev/null && fail "case 3: no usage error without a codename"
echo "deb-src entries: 3 cases passed"
