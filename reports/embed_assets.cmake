# Writes a C++ header holding each asset file as a raw string literal, so CSS and JS stay real
# files in the source tree (linted, diffed, opened in an editor) and keval still ships as one binary.
# Usage: cmake -DOUTPUT=assets.h -DINPUTS="a.css;b.js" -P embed_assets.cmake
set(delimiter "keval_asset")
set(content "#pragma once\n// Generated from reports/assets/ by reports/embed_assets.cmake: do not edit.\n#include <string_view>\n\nnamespace keval::site_assets {\n")
foreach(input IN LISTS INPUTS)
  file(READ "${input}" text)
  string(FIND "${text}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${input} contains the raw-string delimiter )${delimiter}\"")
  endif()
  get_filename_component(name "${input}" NAME)
  string(MAKE_C_IDENTIFIER "${name}" identifier)
  string(APPEND content "\n// ${name}\ninline constexpr std::string_view k_${identifier} = R\"${delimiter}(${text})${delimiter}\";\n")
endforeach()
string(APPEND content "\n} // namespace keval::site_assets\n")
# Rewrite only on change, so a build that changed nothing compiles nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
