# Checks a guard module against the guard ABI's export rules (spec:
# guard-abi §1.2, §1.3) by reading `wasm-objdump -x`:
#   label_agent, label_resource, label_response: (i32, i32, i32, i32) -> i32
#   alloc: (i32) -> i32, dealloc: (i32, i32) -> nil, a memory named "memory",
#   and no imports at all (the demo guards need no host functions).
# Usage: cmake -DOBJDUMP=<wasm-objdump> -DWASM=<file.wasm> -P check_guard_abi.cmake
execute_process(COMMAND ${OBJDUMP} -x ${WASM} OUTPUT_VARIABLE dump RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wasm-objdump failed on ${WASM}")
endif()

function(expect_export name signature)
  string(REGEX MATCH "func\\[([0-9]+)\\][^\n]*-> \"${name}\"" m "${dump}")
  if(NOT m)
    message(FATAL_ERROR "${WASM}: no function export \"${name}\"")
  endif()
  set(idx ${CMAKE_MATCH_1})
  string(REGEX MATCH "\n - func\\[${idx}\\] sig=([0-9]+)" m "${dump}")
  set(sig ${CMAKE_MATCH_1})
  string(REGEX MATCH "\n - type\\[${sig}\\] ([^\n]*)" m "${dump}")
  if(NOT CMAKE_MATCH_1 STREQUAL signature)
    message(FATAL_ERROR "${WASM}: ${name} has type ${CMAKE_MATCH_1}, expected ${signature}")
  endif()
endfunction()

foreach(f label_agent label_resource label_response)
  expect_export(${f} "(i32, i32, i32, i32) -> i32")
endforeach()
expect_export(alloc "(i32) -> i32")
expect_export(dealloc "(i32, i32) -> nil")
if(NOT dump MATCHES "memory\\[0\\] -> \"memory\"")
  message(FATAL_ERROR "${WASM}: memory is not exported as \"memory\"")
endif()
if(dump MATCHES "\nImport\\[")
  message(FATAL_ERROR "${WASM}: imports something; the demo guards must be self-contained")
endif()
if(dump MATCHES "-> \"_start\"")
  message(FATAL_ERROR "${WASM}: exports _start; guards are libraries (spec: guard-abi §1.2)")
endif()
message(STATUS "${WASM}: guard ABI exports OK")
