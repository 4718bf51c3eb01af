# Building wasm32 modules at build time from sources in the repo.
#
# flowgate_add_wat(<target> <out.wasm> <in.wat>)
#     wat2wasm (Debian's wabt).
# flowgate_add_wasm_c(<target> <out.wasm> SOURCES <a.c>... [EXPORTS <sym>...]
#                     [CFLAGS <flag>...] [LDFLAGS <flag>...] [WASI]
#                     [DEPENDS <header>...])
#     clang --target=wasm32 -O2, freestanding (-nostdlib), linked with wasm-ld;
#     WASI links against Debian's wasi-libc instead (--target=wasm32-wasi).
# Both add a custom target <target> that produces <out.wasm>.

function(flowgate_add_wat target out in)
  add_custom_command(OUTPUT ${out}
    COMMAND ${WAT2WASM} ${in} -o ${out}
    DEPENDS ${in} VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${out})
endfunction()

function(flowgate_add_wasm_c target out)
  cmake_parse_arguments(A "WASI" "" "SOURCES;EXPORTS;CFLAGS;LDFLAGS;DEPENDS" ${ARGN})
  set(exports "")
  foreach(e ${A_EXPORTS})
    list(APPEND exports "-Wl,--export=${e}")
  endforeach()
  if(A_WASI)
    set(tflags --target=wasm32-wasi --sysroot=/usr)
  else()
    set(tflags --target=wasm32 -nostdlib -Wl,--no-entry)
  endif()
  add_custom_command(OUTPUT ${out}
    COMMAND ${CLANG_EXE} ${tflags} -O2 -fuse-ld=lld -Wall -Wextra -Werror
            ${A_CFLAGS} ${exports} ${A_LDFLAGS} -o ${out} ${A_SOURCES}
    DEPENDS ${A_SOURCES} ${A_DEPENDS} VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${out})
endfunction()
