# Golden results (tests/golden/golden_results_test.cc): fixed runs whose `keval results --json`
# must stay byte-identical to tests/golden/expected/. Uses the mock server (http.cmake) and the
# exec test model. Regenerate: KEVAL_UPDATE_GOLDEN=1 build/tests/keval_golden_tests
add_executable(keval_golden_tests ${CMAKE_CURRENT_SOURCE_DIR}/golden/golden_results_test.cc)
target_include_directories(keval_golden_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(keval_golden_tests PRIVATE GTest::gtest GTest::gtest_main nlohmann_json::nlohmann_json SQLite::SQLite3
  CURL::libcurl keval_warnings keval_sanitizers)
target_compile_definitions(keval_golden_tests PRIVATE
  KEVAL_BINARY="$<TARGET_FILE:keval>"
  KEVAL_MOCK_SERVER="$<TARGET_FILE:keval-mock-server>")
add_dependencies(keval_golden_tests keval keval-mock-server)
gtest_discover_tests(keval_golden_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "integration;golden" TIMEOUT 120)
