# Checks a guard module against the guard ABI's export rules (spec:
# guard-abi §1.2, §1.3) by reading `wasm-objdump -x`:
#   label_agent, label_resource, label_response: (i32, i32, i32, i32) -> i32
#   alloc: (i32) -> i32, dealloc: (i32, i32) -> nil, a memory named "memory",
#   and no imports at all (the demo guards need no host functions), or
#   only what ALLOWED_IMPORTS names ("module.field,...").
# Usage: cmake -DOBJDUMP=<wasm-objdump> -DWASM=<file.wasm>
#              [-DALLOWED_IMPORTS=env.call_backend,env.host_log] -P check_guard_abi.cmake
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
if(NOT ALLOWED_IMPORTS)
  if(dump MATCHES "\nImport\\[")
    message(FATAL_ERROR "${WASM}: imports something; the demo guards must be self-contained")
  endif()
else()
  string(REPLACE "," ";" ALLOWED_IMPORTS "${ALLOWED_IMPORTS}")
  string(REGEX MATCHALL "\n - [a-z]+\\[[0-9]+\\][^\n]* <- [^\n]+" imports "${dump}")
  foreach(line ${imports})
    string(REGEX MATCH "<- ([^\n]+)$" m "${line}")
    list(FIND ALLOWED_IMPORTS "${CMAKE_MATCH_1}" found)
    if(found EQUAL -1)
      message(FATAL_ERROR "${WASM}: imports ${CMAKE_MATCH_1}; allowed: ${ALLOWED_IMPORTS}")
    endif()
  endforeach()
endif()
if(dump MATCHES "-> \"_start\"")
  message(FATAL_ERROR "${WASM}: exports _start; guards are libraries (spec: guard-abi §1.2)")
endif()
message(STATUS "${WASM}: guard ABI exports OK")
