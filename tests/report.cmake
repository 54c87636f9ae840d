# The static report in a real browser: headless Chromium (Debian's `chromium`, installed by the
# test when missing) renders the leaderboard, clicks a header and keeps a screenshot under
# build/test-artifacts/. Label `browser`, not `unit`: the sanitizer run leaves it out.
add_executable(keval_browser_tests browser/browser_test.cc)
target_include_directories(keval_browser_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(keval_browser_tests PRIVATE nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main keval_warnings)
target_compile_definitions(keval_browser_tests PRIVATE
  KEVAL_BINARY="$<TARGET_FILE:keval>"
  KEVAL_ARTIFACT_DIR="${CMAKE_BINARY_DIR}/test-artifacts")
add_dependencies(keval_browser_tests keval)
# One process for every browser test, so Chromium is installed at most once (apt-get takes a lock).
add_test(NAME browser.report COMMAND keval_browser_tests)
set_tests_properties(browser.report PROPERTIES
  LABELS browser
  TIMEOUT 900
  SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
