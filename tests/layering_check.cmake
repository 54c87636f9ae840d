# Builds every forbidden-include target (continuing past failures) and checks that each failed on
# its include, not for another reason. Run by tests/layering.cmake.
foreach(target ${TARGETS})
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target ${target}
                  OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE status)
  list(POP_FRONT EXPECTED expected)
  if(status EQUAL 0)
    message(FATAL_ERROR "${target} compiled: the layering lets it include what it must not")
  endif()
  string(FIND "${out}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${target} failed, but not on its include (expected \"${expected}\"):\n${out}")
  endif()
endforeach()
message(STATUS "every forbidden include fails to compile")
