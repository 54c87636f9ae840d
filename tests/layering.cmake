# The layering is enforced by the build (harness/CMakeLists.txt): each forbidden pair below is a
# library and a header of a part it may not depend on. A one-line source including that header is
# built against the library, and the test passes only when the compiler cannot find the header.
# The allowed pairs are built the same way and must compile, so the check is known to work.
set(KEVAL_FORBIDDEN_INCLUDES
  util:task.h util:request.h
  core:store.h core:backend.h core:registry.h core:scorer.h core:text.h
  statistics:task.h statistics:store.h statistics:scorer.h
  scorers:store.h scorers:backend.h scorers:http_engine.h scorers:registry.h scorers:runner.h
  tasks:store.h tasks:backend.h tasks:runner.h
  store:backend.h store:scorer.h store:registry.h
  engine:store.h engine:registry.h engine:scorer.h engine:runner.h
  reports:backend.h reports:http_engine.h reports:runner.h reports:registry.h reports:judging.h reports:dispatch.h)
set(KEVAL_ALLOWED_INCLUDES
  core:task.h statistics:estimators.h scorers:task.h scorers:scorer.h scorers:estimators.h tasks:scorer.h
  store:request.h store:records.h engine:request.h reports:store.h reports:statistics.h
  run:backend.h run:store.h run:registry.h run:scorer.h)

set(forbidden_targets "")
set(forbidden_expected "")
set(allowed_targets "")
foreach(kind FORBIDDEN ALLOWED)
  foreach(pair ${KEVAL_${kind}_INCLUDES})
    string(REPLACE ":" ";" parts ${pair})
    list(GET parts 0 library)
    list(GET parts 1 header)
    string(MAKE_C_IDENTIFIER "${library}_includes_${header}" id)
    set(source ${CMAKE_CURRENT_BINARY_DIR}/layering/${id}.cc)
    file(CONFIGURE OUTPUT ${source} CONTENT "#include \"${header}\"\n")
    add_library(layering_${id} OBJECT EXCLUDE_FROM_ALL ${source})
    target_link_libraries(layering_${id} PRIVATE keval_${library})
    if(kind STREQUAL FORBIDDEN)
      list(APPEND forbidden_targets layering_${id})
      list(APPEND forbidden_expected "${id}.cc:1:10: fatal error: ${header}: No such file or directory")
    else()
      list(APPEND allowed_targets layering_${id})
    endif()
  endforeach()
endforeach()

add_test(NAME layering.allowed_includes_compile
  COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target ${allowed_targets})
add_test(NAME layering.forbidden_includes_fail
  COMMAND ${CMAKE_COMMAND} -DBINARY_DIR=${CMAKE_BINARY_DIR} "-DTARGETS=${forbidden_targets}"
          "-DEXPECTED=${forbidden_expected}" -P ${CMAKE_CURRENT_SOURCE_DIR}/layering_check.cmake)
set_tests_properties(layering.allowed_includes_compile layering.forbidden_includes_fail PROPERTIES LABELS layering)
