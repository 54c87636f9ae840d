# The static report in a real browser: headless Chromium (Debian's `chromium`, with the Korean
# fonts of fonts-noto-cjk, both installed by scripts/setup.sh; the test installs nothing) renders
# the leaderboard, clicks a header, pages through samples, checks that Hangul is drawn as glyphs,
# and keeps screenshots under build/test-artifacts/. Without Chromium it reports SKIPPED, and
# ctest counts it as skipped. Label `browser`, not `unit`: the sanitizer run leaves it out.
add_executable(keval_browser_tests browser/browser_test.cc)
target_include_directories(keval_browser_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(keval_browser_tests PRIVATE nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main keval_warnings)
# zlib reads the screenshots (PNG) for the Hangul check; without it that one test is skipped.
find_package(ZLIB)
if(ZLIB_FOUND)
  target_link_libraries(keval_browser_tests PRIVATE ZLIB::ZLIB)
  target_compile_definitions(keval_browser_tests PRIVATE KEVAL_HAVE_ZLIB)
endif()
target_compile_definitions(keval_browser_tests PRIVATE
  KEVAL_BINARY="$<TARGET_FILE:keval>"
  KEVAL_ARTIFACT_DIR="${CMAKE_BINARY_DIR}/test-artifacts")
add_dependencies(keval_browser_tests keval)
add_test(NAME browser.report COMMAND keval_browser_tests)
set_tests_properties(browser.report PROPERTIES
  LABELS browser
  TIMEOUT 900
  SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
