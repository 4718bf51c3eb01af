# Converts one spec script to JSON + .wasm files with wast2json, after the
# rewrite rewrite_for_wabt.cmake applies when REWRITE is set. wast2json's
# messages are shown only if it fails: for elem.wast it reports (and exits 0
# on) the one element expression it cannot encode, which FLOWGATE_SPEC_SKIP
# accounts for. Usage:
#   cmake -DWAST2JSON=<exe> -DNAME=<name> -DIN=<in.wast> -DOUTDIR=<dir>
#         [-DREWRITE=1] -P spec_convert.cmake
cmake_minimum_required(VERSION 3.25)
file(MAKE_DIRECTORY "${OUTDIR}")
set(input "${IN}")
if(REWRITE)
  set(input "${OUTDIR}/${NAME}.wast")
  execute_process(COMMAND "${CMAKE_COMMAND}" -DNAME=${NAME} -DIN=${IN} -DOUT=${input}
                          -P "${CMAKE_CURRENT_LIST_DIR}/rewrite_for_wabt.cmake"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "spec_convert: rewriting ${NAME}.wast failed")
  endif()
endif()
execute_process(COMMAND "${WAST2JSON}" "${input}" -o "${OUTDIR}/${NAME}.json"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "spec_convert: wast2json ${NAME}.wast failed (${rc}):\n${out}")
endif()
