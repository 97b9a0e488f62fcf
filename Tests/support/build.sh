# Sourced by the test scripts: `build_flexbridge` builds the debug `flexbridge`, printing nothing but errors.
#
# SwiftPM itself has crashed here on a build with nothing left to do (SIGSEGV in libdispatch's event loop, in a
# clean-clone `.ci/run`): a build killed by a signal is run once more; a build that fails is not.
build_flexbridge() {
    swift build --product flexbridge >/dev/null && return 0
    local status=$?
    ((status > 128)) || return "$status"
    echo "swift build was killed by signal $((status - 128)); building once more" >&2
    swift build --product flexbridge >/dev/null
}
