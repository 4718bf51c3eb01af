# Rewrites a spec .wast so that wabt 1.0.32's wast2json can convert it,
# without changing what the script asks of the engine (see the corpus
# README for the parser limits). Usage:
#   cmake -DNAME=<script name> -DIN=<in.wast> -DOUT=<out.wast> -P rewrite_for_wabt.cmake
#
# table_get/set/grow/fill/size: wabt requires the table index that the
#   scripts leave out for table 0 (`(table.get (local.get $i))`, bare
#   `table.size`); insert the explicit `0`.
# if: the folded form `(if (i32.const 1) (i32.eqz) (then) (else))` (several
#   condition instructions) is written `(if (i32.eqz (i32.const 1)) ...)`:
#   the same instruction sequence.
# comments: the `(module quote ...)` of "Newline recognition" crashes wabt;
#   it is replaced by the module it spells, minus its comments (what it
#   tests about line comments is text syntax; the three functions and their
#   assertions still run).
cmake_minimum_required(VERSION 3.25)
if(NAME STREQUAL "comments")
  # comments.wast holds NUL bytes, which CMake strings cannot: sed does it.
  set(module "(module (func (export \"f1\") (result i32) (i32.const 1) (return (i32.const 2)))"
             " (func (export \"f2\") (result i32) (i32.const 1) (return (i32.const 2)))"
             " (func (export \"f3\") (result i32) (i32.const 1) (return (i32.const 2))))")
  string(JOIN "" module ${module})
  execute_process(COMMAND sed -e "/^(module quote$/,/^)$/c ${module}" "${IN}"
                  OUTPUT_FILE "${OUT}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "rewrite_for_wabt: sed failed on ${IN}")
  endif()
  return()
endif()

file(READ "${IN}" text)
set(original "${text}")
if(NAME MATCHES "^table_(get|set|grow|fill|size)$")
  string(REGEX REPLACE "\\(table\\.(get|set|grow|fill) \\(" "(table.\\1 0 (" text "${text}")
  string(REGEX REPLACE "table\\.size\\)" "table.size 0)" text "${text}")
elseif(NAME STREQUAL "if")
  string(REPLACE "(if (i32.const 1) (i32.eqz) (then) (else))" "(if (i32.eqz (i32.const 1)) (then) (else))"
         text "${text}")
else()
  message(FATAL_ERROR "rewrite_for_wabt: no rewrite for ${NAME}")
endif()
if(text STREQUAL original)
  message(FATAL_ERROR "rewrite_for_wabt: ${NAME}.wast no longer has what this rewrite expects")
endif()
file(WRITE "${OUT}" "${text}")
