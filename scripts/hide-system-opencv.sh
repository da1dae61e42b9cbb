#!/usr/bin/env bash
# Runs a command with the system's OpenCV shared libraries out of the dynamic loader's reach,
# to prove that a wheel or tarball carries its own copies.
#
#   scripts/hide-system-opencv.sh CMD [ARGS...]
#
# How: a private mount namespace (`unshare -m`, root; `unshare -rm` otherwise, where user
# namespaces are allowed) in which every libopencv_*.so* file known to ldconfig or present in
# the usual library directories has /dev/null bind-mounted over it. Loading one then fails
# with "file too short". Before running CMD the script checks that the hiding works: loading
# libopencv_core through dlopen must fail inside the namespace.
#
# HIDE_LIBS="libX11 libtbb ..." hides these libraries too (libX11.so*, libtbb.so*; e.g. all
# that a wheel bundles).
#
# Exit status: that of CMD; 77 when the libraries cannot be hidden here (no unshare, not root
# and no user namespaces); the reason is printed on stderr. Callers print it as a skip.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [ "${GAZE_HIDE_INNER:-}" != 1 ]; then
  if ! command -v unshare >/dev/null; then
    echo "hide-system-opencv: unshare(1) not found (util-linux); cannot hide the system OpenCV" >&2
    exit 77
  fi
  if [ "$(id -u)" = 0 ]; then
    flags=(-m)
  else
    flags=(-r -m)  # a user namespace maps us to root inside; needs unprivileged user namespaces
  fi
  if ! unshare "${flags[@]}" true 2>/dev/null; then
    echo "hide-system-opencv: 'unshare ${flags[*]}' is not permitted for uid $(id -u) here" \
      "(run as root, or enable unprivileged user namespaces); cannot hide the system OpenCV" >&2
    exit 77
  fi
  GAZE_HIDE_INNER=1 exec unshare "${flags[@]}" --propagation private -- "$0" "$@"
fi

# Inside the namespace: every real file behind a libopencv_* name (and the HIDE_LIBS prefixes).
prefixes=(libopencv_)
for l in ${HIDE_LIBS:-}; do prefixes+=("$l.so"); done
mapfile -t files < <(
  for p in "${prefixes[@]}"; do
    ldconfig -p 2>/dev/null | awk -v p="$p" 'index($1, p) == 1 {print $NF}'
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib /usr/local/lib64 /lib/x86_64-linux-gnu; do
      if [ -d "$d" ]; then find "$d" -maxdepth 1 -name "$p*" 2>/dev/null; fi
    done
  done | while read -r f; do [ -e "$f" ] && readlink -f "$f"; done | sort -u
)
if [ "${#files[@]}" -eq 0 ]; then
  echo "hide-system-opencv: no system OpenCV libraries found; nothing to hide" >&2
fi
for f in "${files[@]}"; do
  mount --bind /dev/null "$f"
done

# The hiding must hold: dlopen of the system libopencv_core fails now.
probe=$(ldconfig -p 2>/dev/null | awk '/libopencv_core\.so\./ && !seen {print $1; seen = 1}')
if [ -n "$probe" ] && command -v python3 >/dev/null; then
  if python3 -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1])' "$probe" 2>/dev/null; then
    echo "hide-system-opencv: $probe still loads inside the namespace; hiding failed" >&2
    exit 1
  fi
fi
echo "hide-system-opencv: ${#files[@]} system libraries hidden (${prefixes[*]}) (e.g. ${probe:-none} no longer loads)" >&2
unset GAZE_HIDE_INNER
exec "$@"
