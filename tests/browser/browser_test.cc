// The report in a real browser: headless Chromium loads the leaderboard with #selftest (the page
// clicks a score column's header and writes what the table then holds into the DOM), dumps the
// DOM, and takes a screenshot kept under build/test-artifacts/. A task page with answers that are
// script payloads is loaded too: nothing of them may run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::write_file;

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return name;
  }
  return "";
}

// Installs Debian's chromium when it is missing. Empty on success, else why it failed.
std::string ensure_chromium(std::string& binary) {
  binary = find_chromium();
  if (!binary.empty()) return "";
  ScratchDir log;
  std::fprintf(stderr, "chromium is missing: apt-get install -y chromium (about a minute, once)\n");
  // A fresh machine may have no package lists yet: update them when the first attempt fails.
  const std::string install = "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium";
  const std::string cmd = "{ " + install + " || { apt-get update -qq && " + install + "; }; } >" + log / "apt.log" + " 2>&1";
  const int rc = std::system(cmd.c_str());
  binary = find_chromium();
  if (!binary.empty()) return "";
  std::string tail = slurp(log.path() / "apt.log");
  if (tail.size() > 600) tail = tail.substr(tail.size() - 600);
  return "exit " + std::to_string(rc) + ": " + tail;
}

std::string html_unescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {{"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"}, {"&gt;", ">"},
                                                          {"&nbsp;", " "}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) s.replace(at, std::strlen(from), to);
  }
  return s;
}

class BrowserFixture : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    s_why = new std::string(ensure_chromium(s_chromium));
    if (!s_why->empty()) return;
    s_dir = new ScratchDir();
    const std::string db = *s_dir / "k.db";
    // Three random runs (different seeds, so columns order them differently) and a replay run
    // whose answers are payloads.
    for (int seed : {1, 2, 3})
      ASSERT_EQ(run_keval("run --backend random --seed " + std::to_string(seed) +
                          " --tasks kobest,korquad_v1 --limit 40 --no-progress --name seed-" + std::to_string(seed) + " --db " + db)
                    .exit_code,
                0);
    auto r = run_keval("samples --json --task korquad_v1 --limit 40");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string replay;
    std::stringstream ss(r.out);
    for (std::string line; std::getline(ss, line);) {
      if (line.empty()) continue;
      auto s = nlohmann::json::parse(line);
      replay += nlohmann::json{{"task", "korquad_v1"}, {"id", s["id"]},
                               {"response", "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
                                            "<script>document.title='pwned'</script></textarea>"}}
                    .dump() +
                "\n";
    }
    write_file(*s_dir / "payload.jsonl", replay);
    auto run = run_keval("run --backend replay --responses " + *s_dir / "payload.jsonl" +
                         " --tasks korquad_v1 --limit 40 --no-progress --name payload --db " + db);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    auto report = run_keval("report --db " + db + " --out " + *s_dir / "site");
    ASSERT_EQ(report.exit_code, 0) << report.err;
  }
  static void TearDownTestSuite() {
    delete s_dir;
    delete s_why;
    s_dir = nullptr;
    s_why = nullptr;
  }
  void SetUp() override {
    if (!s_why->empty())
      GTEST_SKIP() << "no browser: chromium is not installed and `apt-get install -y chromium` failed (no network, or not "
                      "root). "
                   << *s_why;
  }

  // Runs headless Chromium with the given mode flags on a URL; returns its stdout.
  static std::string chromium(const std::string& flags, const std::string& url) {
    ScratchDir profile, io;
    const std::string cmd = "timeout 120 " + s_chromium +
                            " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
                            "--disable-component-update --disable-sync --user-data-dir=" +
                            shell_quote(profile.path().string()) + " " + flags + " " + shell_quote(url) + " >" + io / "out" +
                            " 2>" + io / "err";
    const int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << cmd << "\n" << slurp(io.path() / "err");
    return slurp(io.path() / "out");
  }
  static std::string url(const std::string& page) { return "file://" + (s_dir->path() / "site" / page).string(); }

  static inline ScratchDir* s_dir = nullptr;
  static inline std::string* s_why = nullptr;
  static inline std::string s_chromium;
};

TEST_F(BrowserFixture, LeaderboardRendersAndSortsOnClick) {
  const std::string dom = chromium("--dump-dom", url("index.html#selftest"));
  const std::regex pre("<pre id=\"selftest-result\">([^<]*)</pre>");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, pre)) << "the page's self-test did not run:\n" << dom.substr(0, 2000);
  const auto result = nlohmann::json::parse(html_unescape(m[1].str()));
  EXPECT_EQ(result["rows"], 4);                      // one row per run
  ASSERT_FALSE(result["column"].is_null()) << result;
  EXPECT_EQ(result["direction"], "descending");
  ASSERT_EQ(result["values"].size(), 4u);
  // After the click the column is sorted, best first, runs without a value last.
  std::vector<double> values;
  bool seen_null = false;
  for (const auto& v : result["values"]) {
    if (v.is_null()) {
      seen_null = true;
      continue;
    }
    EXPECT_FALSE(seen_null) << "a value after an empty cell: " << result;
    values.push_back(v.get<double>());
  }
  EXPECT_TRUE(std::is_sorted(values.rbegin(), values.rend())) << result;
  // Ranks follow the sorted column: the first row is ranked 1, ranks never decrease.
  EXPECT_EQ(result["ranks"][0], "1") << result;
  // The DOM Chromium dumped holds the rows in that order.
  const size_t board = dom.find("id=\"board\"");
  ASSERT_NE(board, std::string::npos);
  const std::string table = dom.substr(board, dom.find("</table>", board) - board);
  const std::regex row("<tr data-run=\"([0-9a-f]+)\"");
  std::vector<std::string> order;
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row); it != std::sregex_iterator(); ++it)
    order.push_back((*it)[1].str());
  EXPECT_EQ(nlohmann::json(order), result["order"]);

  // A screenshot for people to look at (kept as a test artifact).
  std::filesystem::create_directories(KEVAL_ARTIFACT_DIR);
  const std::string shot = std::string(KEVAL_ARTIFACT_DIR) + "/leaderboard.png";
  std::filesystem::remove(shot);
  chromium("--screenshot=" + shell_quote(shot) + " --window-size=1280,900 --hide-scrollbars", url("index.html"));
  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
  std::fprintf(stderr, "screenshot: %s\n", shot.c_str());
}

TEST_F(BrowserFixture, SampleBrowserShowsPayloadsAsText) {
  const std::string dom = chromium("--dump-dom", url("tasks/korquad_v1.html"));
  // The browser rendered the samples from the page's JSON...
  const size_t articles = [&] {
    size_t n = 0;
    for (size_t at = dom.find("<article class=\"sample\""); at != std::string::npos; at = dom.find("<article class=\"sample\"", at + 1)) ++n;
    return n;
  }();
  EXPECT_EQ(articles, 25u) << dom.substr(0, 3000);  // the first page of 25
  // ...with the payload as visible text, and none of it ran.
  EXPECT_NE(dom.find("&lt;img src=x onerror="), std::string::npos);
  EXPECT_NE(dom.find("&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;/textarea&gt;"), std::string::npos);
  EXPECT_EQ(dom.find("data-pwned"), dom.find("data-pwned','1')"));  // only inside the text, never as an attribute
  EXPECT_EQ(dom.find("<title>pwned"), std::string::npos);
  EXPECT_EQ(dom.find("<img"), std::string::npos);
  std::filesystem::create_directories(KEVAL_ARTIFACT_DIR);
  chromium("--screenshot=" + shell_quote(std::string(KEVAL_ARTIFACT_DIR) + "/task-korquad_v1.png") +
               " --window-size=1280,900 --hide-scrollbars",
           url("tasks/korquad_v1.html"));
}

} // namespace
} // namespace keval
