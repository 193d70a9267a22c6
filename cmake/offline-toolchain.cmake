# Lets deno_core's QuickJS build find SIMDe from Debian's libsimde-dev instead
# of downloading it (no network at build time).
set(FETCHCONTENT_SOURCE_DIR_SIMDE /usr/include CACHE PATH "" FORCE)
