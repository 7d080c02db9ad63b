# Sourced by scripts/build.sh and scripts/fuzz.sh: compile through ccache when it
# is installed (scripts/setup.sh installs it). The cache lives in the shared
# per-user cache (KB_CACHE_DIR, default $XDG_CACHE_HOME/kafka-backup, then
# ccache/) and is keyed by paths relative to the tree (base_dir, no hash_dir),
# so a fresh clone anywhere on a machine that built before compiles almost
# nothing. KB_CCACHE=0 turns it off. Debug info then names the source files
# relative to the tree.
#
# ccache_setup ROOT   exports ccache's settings and sets CCACHE_CMAKE_ARGS, the
#                     CMake launcher options (empty without ccache)
ccache_setup() {
  CCACHE_CMAKE_ARGS=()
  [[ "${KB_CCACHE:-1}" != 0 ]] && command -v ccache >/dev/null || return 0
  export CCACHE_DIR="${CCACHE_DIR:-${KB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-backup}/ccache}"
  export CCACHE_BASEDIR="$1" CCACHE_NOHASHDIR=1
  CCACHE_CMAKE_ARGS=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
}
