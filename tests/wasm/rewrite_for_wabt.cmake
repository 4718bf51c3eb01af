# Rewrites a .wast so that wabt 1.0.32's wast2json can parse it: that version
# requires the table index of table.get/set/grow/fill/size, which the spec's
# scripts leave out when it is table 0 (`(table.get (local.get $i))`, bare
# `table.size`). Inserting the explicit `0` does not change the tested
# behaviour. Usage: cmake -DIN=<in.wast> -DOUT=<out.wast> -P rewrite_table_index.cmake
file(READ "${IN}" text)
string(REGEX REPLACE "\\(table\\.(get|set|grow|fill) \\(" "(table.\\1 0 (" text "${text}")
string(REGEX REPLACE "table\\.size\\)" "table.size 0)" text "${text}")
file(WRITE "${OUT}" "${text}")
