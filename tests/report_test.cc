// `keval report`: the static site's structure, and that text from models and users stays inert.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "html.h"
#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::write_file;

// Payloads a model could answer with; none may reach the page as markup.
const std::vector<std::string> k_payloads = {
    "<script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">",
    "</textarea><svg onload=alert(1)>",
    "</script><script>alert('x')</script>",
    "<!-- --><a href='javascript:alert(1)'>x</a> & \"quotes\" \xE2\x80\xA8 line separator",
};

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(Html, Escapes) {
  EXPECT_EQ(html::escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html::script_safe("{\"a\":\"</script><!--&\xE2\x80\xA8\xE2\x80\xA9\"}"),
            "{\"a\":\"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029\"}");
  // What the escapes stand for is unchanged.
  const std::string text = "</script>\xE2\x80\xA8&<>";
  EXPECT_EQ(nlohmann::json::parse(html::script_json(nlohmann::json{{"t", text}}))["t"], text);
  EXPECT_EQ(html::xml_escape("a\x01<b>"), "a&lt;b&gt;");
  EXPECT_EQ(html::file_name("kobest_copa"), "kobest_copa");
  EXPECT_EQ(html::file_name("../x y"), "-2E.-2Fx-20y");
}

class ReportFixture : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    s_dir = new ScratchDir();
    // Two random runs, and a replay run whose answers (and model name) are payloads.
    for (int seed : {1, 2})
      ASSERT_EQ(run_keval("run --backend random --seed " + std::to_string(seed) +
                          " --tasks kobest_copa,korquad_v1,kobest_boolq --limit 20 --no-progress --name random-" +
                          std::to_string(seed) + " --db " + db())
                    .exit_code,
                0);
    std::string replay;
    for (const char* task : {"kobest_copa", "korquad_v1", "kobest_boolq"}) {
      auto r = run_keval(std::string("samples --json --task ") + task + " --limit 20");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      std::stringstream ss(r.out);
      size_t i = 0;
      for (std::string line; std::getline(ss, line); ++i) {
        if (line.empty()) continue;
        auto s = nlohmann::json::parse(line);
        replay += nlohmann::json{{"task", task}, {"id", s["id"]}, {"response", k_payloads[i % k_payloads.size()]}}.dump() + "\n";
      }
    }
    write_file(*s_dir / "payload.jsonl", replay);
    auto run = run_keval("run --backend replay --responses " + *s_dir / "payload.jsonl" +
                         " --tasks kobest_copa,korquad_v1,kobest_boolq --limit 20 --no-progress --name " +
                         shell_quote("evil<b>\"'&") + " --model " + shell_quote(k_payloads[1]) + " --db " + db());
    ASSERT_EQ(run.exit_code, 0) << run.err;
    auto report = run_keval("report --db " + db() + " --out " + site());
    ASSERT_EQ(report.exit_code, 0) << report.err;
  }
  static void TearDownTestSuite() {
    delete s_dir;
    s_dir = nullptr;
  }
  static std::string db() { return *s_dir / "k.db"; }
  static std::string site() { return *s_dir / "site"; }
  static inline ScratchDir* s_dir = nullptr;
};

TEST_F(ReportFixture, WritesIndexTaskAndRunPages) {
  const std::string index = slurp(site() + "/index.html");
  ASSERT_FALSE(index.empty());
  for (const char* task : {"kobest_copa", "korquad_v1", "kobest_boolq"}) {
    EXPECT_TRUE(std::filesystem::exists(site() + "/tasks/" + task + ".html")) << task;
    EXPECT_NE(index.find(std::string("href=\"tasks/") + task + ".html\""), std::string::npos) << task;
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(site() + "/runs"), std::filesystem::directory_iterator()), 3);
  // The leaderboard: one row per run, sortable, with intervals; every run's fingerprint is listed.
  EXPECT_NE(index.find("<table id=\"board\" class=\"sortable board\""), std::string::npos);
  EXPECT_EQ(count(index.substr(index.find("id=\"board\""), index.find("</table>", index.find("id=\"board\"")) -
                                                               index.find("id=\"board\"")),
                  "<tr data-run="),
            3u);
  EXPECT_NE(index.find("data-lo=\""), std::string::npos);
  auto runs = nlohmann::json::parse(run_keval("runs --json --db " + db()).out);
  for (const auto& r : runs) EXPECT_NE(index.find(r["config_hash"].get<std::string>()), std::string::npos);
  // Self-contained: nothing is fetched from anywhere.
  for (const std::string& page : {index, slurp(site() + "/tasks/kobest_copa.html")}) {
    EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"));  // the SVG namespace is a name, not a fetch
    EXPECT_EQ(page.find("https://"), std::string::npos);
    EXPECT_EQ(page.find("<script src"), std::string::npos);
    EXPECT_EQ(page.find("<iframe"), std::string::npos);
    EXPECT_EQ(page.find("<link"), std::string::npos);
    EXPECT_EQ(page.find("@import"), std::string::npos);
  }
}

TEST_F(ReportFixture, PayloadsStayInert) {
  std::vector<std::string> pages = {site() + "/index.html"};
  for (const auto& dir : {"/tasks", "/runs"})
    for (const auto& f : std::filesystem::directory_iterator(site() + dir)) pages.push_back(f.path().string());
  for (const auto& path : pages) {
    const std::string page = slurp(path);
    SCOPED_TRACE(path);
    // No payload appears as markup anywhere...
    EXPECT_EQ(page.find("<script>document.title"), std::string::npos);
    EXPECT_EQ(page.find("<img"), std::string::npos);
    EXPECT_EQ(page.find("onerror=\""), std::string::npos);
    EXPECT_EQ(page.find("</textarea>"), std::string::npos);
    EXPECT_EQ(page.find("<svg onload"), std::string::npos);
    EXPECT_EQ(page.find("<script>alert"), std::string::npos);
    EXPECT_EQ(page.find("<a href='javascript"), std::string::npos);
    EXPECT_EQ(page.find("evil<b>"), std::string::npos);
    EXPECT_EQ(page.find("\xE2\x80\xA8"), std::string::npos);
    // ...and the only script elements are the page's own: every "<script" opens one of ours and
    // every "</script" closes one.
    EXPECT_EQ(count(page, "<script"), count(page, "</script>"));
    const std::regex own("<script( type=\"application/json\" id=\"keval-data\")?>");
    EXPECT_EQ(static_cast<size_t>(std::distance(std::sregex_iterator(page.begin(), page.end(), own), std::sregex_iterator())),
              count(page, "<script"));
  }
  // The data are all there, escaped, and read back exactly.
  const std::string task = slurp(site() + "/tasks/korquad_v1.html");
  const std::string open = "<script type=\"application/json\" id=\"keval-data\">";
  const size_t from = task.find(open) + open.size();
  const auto data = nlohmann::json::parse(task.substr(from, task.find("</script>", from) - from));
  EXPECT_EQ(data["runs"].size(), 3u);
  EXPECT_EQ(data["samples"].size(), 20u);
  std::set<std::string> answers;
  for (const auto& run : data["answers"])
    for (const auto& a : run)
      if (a.is_array() && a[2].is_string()) answers.insert(a[2].get<std::string>());
  for (const auto& p : k_payloads) EXPECT_TRUE(answers.count(p)) << p;
  // Names and models are escaped in markup.
  const std::string index = slurp(site() + "/index.html");
  EXPECT_NE(index.find("evil&lt;b&gt;&quot;&#39;&amp;"), std::string::npos);
  EXPECT_NE(index.find("&lt;img src=x onerror=&quot;document.body"), std::string::npos);
}

TEST(Report, EmptyDatabaseAndBadArguments) {
  ScratchDir dir;
  ASSERT_EQ(run_keval("run --backend random --tasks kobest_copa --limit 3 --no-progress --db " + dir / "k.db").exit_code, 0);
  auto ok = run_keval("report --db " + dir / "k.db" + " --out " + dir / "site");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("1 runs"), std::string::npos) << ok.out;
  EXPECT_EQ(run_keval("report --db " + dir / "missing.db" + " --out " + dir / "x").exit_code, 2);
  // Without --out the site goes beside the database.
  EXPECT_EQ(run_keval("report --db " + dir / "k.db").exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "site" / "index.html"));
  EXPECT_EQ(run_keval("report --db " + dir / "k.db" + " --outt " + dir / "x").exit_code, 2);
}

} // namespace
} // namespace keval
