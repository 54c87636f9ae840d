# The HTTP backends' test server (tests/mock_server) and the tests that start it. Unit tests of
# the pure wire-format functions live in keval_unit_tests (tests/*_test.cc).
# Debian builds cpp-httplib as a shared library (libcpp-httplib-dev, installed by scripts/setup.sh).
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
add_executable(keval-mock-server ${CMAKE_CURRENT_SOURCE_DIR}/mock_server/mock_server.cc)
target_link_libraries(keval-mock-server PRIVATE PkgConfig::HTTPLIB nlohmann_json::nlohmann_json Threads::Threads keval_warnings keval_sanitizers)
set_target_properties(keval-mock-server PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

# End-to-end tests of the HTTP and exec backends (they start servers and programs; labelled
# integration, run by scripts/test.sh, not by the sanitizer build's `unit` label).
add_executable(keval_http_tests ${CMAKE_CURRENT_SOURCE_DIR}/http/http_integration_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/http/judge_integration_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/http/identity_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/http/servers_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/http/encode_pair_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/http/hardening_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/http/usage_test.cc)
target_include_directories(keval_http_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(keval_http_tests PRIVATE GTest::gtest GTest::gtest_main nlohmann_json::nlohmann_json SQLite::SQLite3
  CURL::libcurl keval_warnings keval_sanitizers)
target_compile_definitions(keval_http_tests PRIVATE
  KEVAL_BINARY="$<TARGET_FILE:keval>"
  KEVAL_MOCK_SERVER="$<TARGET_FILE:keval-mock-server>")
add_dependencies(keval_http_tests keval keval-mock-server)
gtest_discover_tests(keval_http_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS integration TIMEOUT 120)

# Request streams driven directly (the engine and the backends, linked in), against the mock.
add_executable(keval_stream_tests ${CMAKE_CURRENT_SOURCE_DIR}/http/stream_test.cc)
target_include_directories(keval_stream_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(keval_stream_tests PRIVATE keval_engine keval_util GTest::gtest GTest::gtest_main keval_warnings keval_sanitizers)
target_compile_definitions(keval_stream_tests PRIVATE
  KEVAL_BINARY="$<TARGET_FILE:keval>"
  KEVAL_MOCK_SERVER="$<TARGET_FILE:keval-mock-server>")
add_dependencies(keval_stream_tests keval-mock-server)
gtest_discover_tests(keval_stream_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS integration TIMEOUT 120)
