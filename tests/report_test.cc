// `keval report`: the static site's structure, that text from models and users stays inert
// (in pages and in data files), that runs on a subset are marked and not ranked, that pages stay
// small, and that a killed report leaves no truncated page.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "html.h"
#include "store.h"
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

namespace fs = std::filesystem;

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// Every regular file under `dir` whose name ends with `suffix`.
std::vector<fs::path> files_under(const std::string& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& f : fs::recursive_directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (f.is_regular_file() && name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(f.path());
  }
  return out;
}

// A data file's JSON: `kevalSamples.index(JSON);` or `kevalSamples.chunk(K,JSON);`.
nlohmann::json data_file_json(const fs::path& path) {
  const std::string text = slurp(path);
  const size_t open = text.find(text.rfind("kevalSamples.chunk(", 0) == 0 ? ',' : '(');
  const size_t close = text.rfind(");");
  EXPECT_NE(open, std::string::npos) << path;
  EXPECT_NE(close, std::string::npos) << path;
  EXPECT_EQ(close + 3, text.size()) << path << ": the call must end the file";
  return nlohmann::json::parse(text.substr(open + 1, close - open - 1));
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
    // Two random runs on every sample, and a replay run on 20 samples whose answers (and model
    // name) are payloads: a run on a subset.
    for (int seed : {1, 2})
      ASSERT_EQ(run_keval("run --backend random --seed " + std::to_string(seed) +
                          " --tasks kobest_copa,korquad_v1,kobest_boolq --no-progress --name random-" + std::to_string(seed) +
                          " --db " + db())
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
  static std::string table(const std::string& page, const std::string& id) {
    const size_t at = page.find("<table id=\"" + id + "\"");
    return at == std::string::npos ? "" : page.substr(at, page.find("</table>", at) - at);
  }
  static std::vector<std::string> run_ids() {
    std::vector<std::string> ids;
    for (const auto& r : nlohmann::json::parse(run_keval("runs --json --db " + db()).out)) ids.push_back(r["id"]);
    return ids;
  }
  static inline ScratchDir* s_dir = nullptr;
};

TEST_F(ReportFixture, WritesIndexTaskRunAndDataFiles) {
  const std::string index = slurp(site() + "/index.html");
  ASSERT_FALSE(index.empty());
  for (const char* task : {"kobest_copa", "korquad_v1", "kobest_boolq"}) {
    EXPECT_TRUE(fs::exists(site() + "/tasks/" + task + ".html")) << task;
    EXPECT_TRUE(fs::exists(site() + "/data/" + task + "/index.js")) << task;
    EXPECT_TRUE(fs::exists(site() + "/data/" + task + "/0.js")) << task;
    EXPECT_NE(index.find(std::string("href=\"tasks/") + task + ".html\""), std::string::npos) << task;
  }
  for (const char* asset : {"site.css", "table.js", "selftest.js", "samples.js"})
    EXPECT_GT(fs::file_size(site() + "/assets/" + asset), 500u) << asset;
  // The stylesheet is the source tree's file, as it is.
  EXPECT_EQ(slurp(site() + "/assets/site.css"), slurp(testing::source_dir() + "/reports/assets/site.css"));
  EXPECT_EQ(std::distance(fs::directory_iterator(site() + "/runs"), fs::directory_iterator()), 3);
  // The leaderboard: one row per run, sortable, with intervals; every run's fingerprint is listed.
  EXPECT_NE(index.find("<table id=\"board\" class=\"sortable board\""), std::string::npos);
  EXPECT_EQ(count(table(index, "all-board"), "<tr data-run="), 3u);
  EXPECT_NE(index.find("data-lo=\""), std::string::npos);
  for (const auto& r : nlohmann::json::parse(run_keval("runs --json --db " + db()).out))
    EXPECT_NE(index.find(r["config_hash"].get<std::string>()), std::string::npos);
  // The sample data: every sample of korquad_v1 (the full runs have them all), 50 a chunk.
  const auto korquad = data_file_json(site() + "/data/korquad_v1/index.js");
  EXPECT_EQ(korquad["task"], "korquad_v1");
  EXPECT_EQ(korquad["runs"].size(), 3u);
  EXPECT_EQ(korquad["chunk_size"], 50);
  const size_t samples = korquad["ids"].size();
  EXPECT_GT(samples, 5000u);
  EXPECT_EQ(files_under(site() + "/data/korquad_v1", ".js").size(), 1 + (samples + 49) / 50);
  for (const auto& per_run : korquad["values"]) EXPECT_EQ(per_run.size(), samples);
  const auto last = data_file_json(site() + "/data/korquad_v1/" + std::to_string((samples - 1) / 50) + ".js");
  EXPECT_EQ(last["samples"].back()["id"], korquad["ids"].back());
  EXPECT_EQ(last["answers"].size(), 3u);
  // Self-contained and relative: nothing is fetched from anywhere, the site works from disk.
  std::vector<fs::path> pages = files_under(site(), ".html");
  for (const auto& path : pages) {
    const std::string page = slurp(path);
    SCOPED_TRACE(path.string());
    // Every table sits in a box that scrolls sideways when it is wider than the window.
    EXPECT_EQ(count(page, "<table"), count(page, "<div class=\"scroll\"><table"));
    EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"));  // the SVG namespace is a name, not a fetch
    EXPECT_EQ(page.find("https://"), std::string::npos);
    EXPECT_EQ(page.find("<iframe"), std::string::npos);
    EXPECT_EQ(page.find("@import"), std::string::npos);
    const std::regex link("(src|href)=\"([^\"]*)\"");
    for (auto it = std::sregex_iterator(page.begin(), page.end(), link); it != std::sregex_iterator(); ++it) {
      const std::string target = (*it)[2].str();
      EXPECT_EQ(target.find(':'), std::string::npos) << target;
      EXPECT_NE(target.rfind("//", 0), 0u) << target;
      const std::string file = target.substr(0, target.find('#'));
      if (!file.empty()) {
        EXPECT_TRUE(fs::exists(path.parent_path() / file)) << target;
      }
    }
  }
}

TEST_F(ReportFixture, PagesStaySmallAsSamplesGrow) {
  // korquad_v1 has about 6,000 samples × 3 runs; its page holds none of them.
  EXPECT_LT(fs::file_size(site() + "/tasks/korquad_v1.html"), 20'000u);
  EXPECT_LT(fs::file_size(site() + "/index.html"), 60'000u);
  uintmax_t data = 0;
  for (const auto& f : files_under(site() + "/data/korquad_v1", ".js")) data += fs::file_size(f);
  EXPECT_GT(data, 5'000'000u);
}

TEST_F(ReportFixture, RunsOnASubsetAreMarkedAndNotRanked) {
  const std::string index = slurp(site() + "/index.html");
  const auto ids = run_ids();  // newest first: the replay run on 20 samples
  ASSERT_EQ(ids.size(), 3u);
  const std::string& partial = ids[0];
  // The ranked leaderboard holds the two full runs only, both ranked.
  const std::string board = table(index, "board");
  EXPECT_EQ(count(board, "<tr data-run="), 2u);
  EXPECT_EQ(board.find(partial), std::string::npos);
  EXPECT_EQ(count(board, "<td class=\"rank\" data-v=\"\">"), 0u);
  // The run on a subset is in its own table, with why, and its values are marked.
  const std::string subset = table(index, "partial-board");
  EXPECT_EQ(count(subset, "<tr data-run="), 1u);
  EXPECT_NE(subset.find("<tr data-run=\"" + partial + "\" class=\"partial\""), std::string::npos);
  EXPECT_NE(subset.find("--limit 20"), std::string::npos);
  EXPECT_EQ(subset.find("data-rank-col"), std::string::npos);
  EXPECT_NE(subset.find("class=\"partial-cell\""), std::string::npos);
  // In the table of every task it comes last, marked and unranked.
  const std::string all = table(index, "all-board");
  const size_t row = all.find("<tr data-run=\"" + partial + "\" class=\"partial\"");
  ASSERT_NE(row, std::string::npos);
  EXPECT_EQ(all.find("<tr data-run=", row + 1), std::string::npos);
  EXPECT_NE(all.substr(row, all.find("</tr>", row) - row).find("<td class=\"rank\" data-v=\"\">–</td>"), std::string::npos);
  // Its run page says so too.
  const std::string run_page = slurp(site() + "/runs/" + partial + ".html");
  EXPECT_NE(run_page.find("evaluated on a subset"), std::string::npos);
  EXPECT_EQ(slurp(site() + "/runs/" + ids[1] + ".html").find("evaluated on a subset"), std::string::npos);
}

TEST_F(ReportFixture, PayloadsStayInert) {
  for (const auto& path : files_under(site(), ".html")) {
    const std::string page = slurp(path);
    SCOPED_TRACE(path.string());
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
    // ...and the only script elements are the page's own, loading the site's own files.
    EXPECT_EQ(count(page, "<script"), count(page, "</script>"));
    const std::regex own("<script src=\"(\\.\\./)?(assets/[a-z]+\\.js|data/[A-Za-z0-9_.-]+/index\\.js)\"></script>");
    EXPECT_EQ(static_cast<size_t>(std::distance(std::sregex_iterator(page.begin(), page.end(), own), std::sregex_iterator())),
              count(page, "<script"));
  }
  // A data file is one call of the page's function with JSON that cannot close a script element,
  // open a comment or end a line early: no < > & U+2028 U+2029 anywhere in it.
  for (const auto& path : files_under(site() + "/data", ".js")) {
    const std::string text = slurp(path);
    SCOPED_TRACE(path.string());
    EXPECT_TRUE(text.rfind("kevalSamples.index(", 0) == 0 || text.rfind("kevalSamples.chunk(", 0) == 0);
    EXPECT_EQ(text.find_first_of("<>&"), std::string::npos);
    EXPECT_EQ(text.find("\xE2\x80\xA8"), std::string::npos);
    EXPECT_EQ(text.find("\xE2\x80\xA9"), std::string::npos);
    EXPECT_EQ(count(text, "kevalSamples."), 1u);
  }
  // The data are all there, escaped, and read back exactly.
  std::set<std::string> answers;
  for (const auto& path : files_under(site() + "/data/korquad_v1", ".js")) {
    if (path.filename() == "index.js") continue;
    const auto chunk = data_file_json(path);
    for (const auto& run : chunk["answers"])
      for (const auto& a : run)
        if (a.is_array() && a[2].is_string()) answers.insert(a[2].get<std::string>());
  }
  for (const auto& p : k_payloads) EXPECT_TRUE(answers.count(p)) << p;
  // Names and models are escaped in markup, and in the data as JSON.
  const std::string index = slurp(site() + "/index.html");
  EXPECT_NE(index.find("evil&lt;b&gt;&quot;&#39;&amp;"), std::string::npos);
  EXPECT_NE(index.find("&lt;img src=x onerror=&quot;document.body"), std::string::npos);
  const auto korquad = data_file_json(site() + "/data/korquad_v1/index.js");
  EXPECT_EQ(korquad["runs"][0]["name"], "evil<b>\"'&");
}

TEST_F(ReportFixture, KilledReportLeavesNoTruncatedFile) {
  // Each file is whole when it ends as its kind does.
  auto whole = [](const fs::path& path, const std::string& text) {
    if (path.extension() == ".html") return text.size() > 20 && text.compare(text.size() - 8, 8, "</html>\n") == 0;
    if (path.parent_path().filename() == "assets") return !text.empty();
    return text.size() > 3 && text.compare(text.size() - 3, 3, ");\n") == 0;
  };
  auto check_site = [&](const std::string& dir, bool allow_temporary) {
    size_t files = 0;
    for (const auto& f : fs::recursive_directory_iterator(dir)) {
      if (!f.is_regular_file()) continue;
      const std::string name = f.path().filename().string();
      if (name.find(".keval-tmp") != std::string::npos) {
        EXPECT_TRUE(allow_temporary) << f.path();
        continue;
      }
      std::string text = slurp(f.path());
      // A file renamed over between listing and reading is not a truncated one.
      if (text.empty() && !fs::exists(f.path())) continue;
      EXPECT_TRUE(whole(f.path(), text)) << f.path() << " is truncated (" << text.size() << " bytes)";
      ++files;
    }
    return files;
  };
  ScratchDir scratch;
  const std::string out = scratch / "site";
  ASSERT_EQ(run_keval("report --db " + db() + " --out " + out).exit_code, 0);
  size_t killed = 0;
  for (int delay_ms : {1, 5, 15, 30, 60, 100, 150, 250}) {
    pid_t pid = 0;
    const std::string binary = KEVAL_BINARY, database = db();
    std::vector<std::string> args = {binary, "report", "--db", database, "--out", out};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    ASSERT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    // Meanwhile a reader looks at every file again and again: none is ever seen in part.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
    while (std::chrono::steady_clock::now() < until) check_site(out, true);
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) ++killed;
    SCOPED_TRACE("killed after " + std::to_string(delay_ms) + " ms");
    EXPECT_GT(check_site(out, true), 10u);
  }
  EXPECT_GT(killed, 0u) << "no report was killed before it finished: the test proves nothing";
  // The next report clears what the killed ones left behind.
  ASSERT_EQ(run_keval("report --db " + db() + " --out " + out).exit_code, 0);
  check_site(out, false);
}

// The store's bulk reader gives the same rows as the parsing API, as raw text.
TEST(Report, StoreReaderReadsWhatTheStoreHolds) {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  ASSERT_EQ(run_keval("run --backend random --tasks kobest_copa,korquad_v1 --limit 7 --no-progress --db " + db).exit_code, 0);
  Store store(db, false);
  const auto runs = store.list_runs();
  ASSERT_EQ(runs.size(), 1u);
  StoreReader reader(db);
  for (const std::string task : {"kobest_copa", "korquad_v1"}) {
    SCOPED_TRACE(task);
    const auto scores = store.load_scores(runs[0].id, task);
    std::map<std::string, std::string> raw;
    reader.for_each_raw_score(runs[0].id, task, [&](const RawScoreRow& row) {
      EXPECT_EQ(nlohmann::json::parse(row.score_json).is_object(), true);
      raw[std::string(row.sample_id)] = std::string(row.status) + "|" + std::string(row.extracted);
    });
    ASSERT_EQ(raw.size(), scores.size());
    for (const auto& s : scores) EXPECT_EQ(raw[s.sample_id], s.status + "|" + s.extracted) << s.sample_id;
    size_t responses = 0;
    reader.for_each_raw_response(runs[0].id, task, true, [&](const RawResponseRow& row) {
      ++responses;
      EXPECT_EQ(row.status, "ok");
      EXPECT_EQ(nlohmann::json::parse(row.request_json), *store.load_request(runs[0].id, task, std::string(row.sample_id), row.turn));
      // Log-prob requests (kobest_copa) come with log-probabilities, generations with text.
      EXPECT_EQ(row.logprobs_json.has_value(), task == "kobest_copa");
    });
    EXPECT_EQ(responses, store.load_responses(runs[0].id, task).size());
    reader.for_each_raw_response(runs[0].id, task, false, [&](const RawResponseRow& row) { EXPECT_TRUE(row.request_json.empty()); });
  }
  // Nothing for an unknown run.
  size_t rows = 0;
  reader.for_each_raw_score("nope", "kobest_copa", [&](const RawScoreRow&) { ++rows; });
  EXPECT_EQ(rows, 0u);
}

TEST(Report, OtherTaskContentIsMarkedAndNotRanked) {
  // Three full runs of kobest_copa; the newest ran other content of the task (its stored hash
  // says so, as after an edit of the task file or its data).
  ScratchDir dir;
  const std::string db = dir / "k.db";
  for (int seed : {1, 2, 3})
    ASSERT_EQ(run_keval("run --backend random --seed " + std::to_string(seed) + " --tasks kobest_copa --no-progress --name s" +
                        std::to_string(seed) + " --db " + db)
                  .exit_code,
              0);
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(handle,
                         "UPDATE runs SET config_json = json_set(config_json, '$.tasks[0].hash', 'ffff') WHERE name = 's3'",
                         nullptr, nullptr, &error),
            SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(handle);
  std::string other;
  for (const auto& r : nlohmann::json::parse(run_keval("runs --json --db " + db).out))
    if (r["name"] == "s3") other = r["id"];
  ASSERT_FALSE(other.empty());
  ASSERT_EQ(run_keval("report --db " + db + " --out " + dir / "site").exit_code, 0);
  const std::string index = slurp(dir / "site/index.html");
  const size_t board = index.find("<table id=\"board\"");
  ASSERT_NE(board, std::string::npos);
  const std::string table = index.substr(board, index.find("</table>", board) - board);
  // All three are full runs, in the ranked table; the one of other content is not ranked, and
  // its value is marked as not comparable; the other two are ranked.
  const size_t row = table.find("<tr data-run=\"" + other + "\">");
  ASSERT_NE(row, std::string::npos);
  const std::string mine = table.substr(row, table.find("</tr>", row) - row);
  EXPECT_NE(mine.find("<td class=\"rank\" data-v=\"\">–</td>"), std::string::npos) << mine;
  EXPECT_NE(mine.find("class=\"other-content\""), std::string::npos) << mine;
  EXPECT_NE(mine.find("data-unranked=\"1\""), std::string::npos) << mine;
  EXPECT_EQ(count(table, "other-content"), 1u);
  EXPECT_EQ(count(table, "<td class=\"rank\" data-v=\"\">"), 1u);
}

TEST(Report, EmptyDatabaseAndBadArguments) {
  ScratchDir dir;
  ASSERT_EQ(run_keval("run --backend random --tasks kobest_copa --limit 3 --no-progress --db " + dir / "k.db").exit_code, 0);
  auto ok = run_keval("report --db " + dir / "k.db" + " --out " + dir / "site");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("1 runs"), std::string::npos) << ok.out;
  // Its one run is on 3 samples: nothing is ranked, and the page says why.
  const std::string index = slurp(dir / "site/index.html");
  EXPECT_NE(index.find("id=\"no-full-runs\""), std::string::npos);
  EXPECT_EQ(index.find("<table id=\"board\""), std::string::npos);
  EXPECT_NE(index.find("<table id=\"partial-board\""), std::string::npos);
  EXPECT_EQ(run_keval("report --db " + dir / "missing.db" + " --out " + dir / "x").exit_code, 2);
  // Without --out the site goes beside the database.
  EXPECT_EQ(run_keval("report --db " + dir / "k.db").exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "site" / "index.html"));
  EXPECT_EQ(run_keval("report --db " + dir / "k.db" + " --outt " + dir / "x").exit_code, 2);
}

// The usage table: requests, cached answers, tokens, latency, cost at the recorded prices, and
// tokens per 1,000 Korean characters, for every run, from its stored responses.
TEST(Report, UsageTableShowsEveryRunsRequestsTokensLatencyAndCost) {
  ScratchDir dir;
  const std::string db = dir / "k.db";
  ASSERT_EQ(run_keval("run --backend random --tasks kobest_copa --limit 4 --no-progress --name priced --price-in 2 "
                      "--price-out 10 --model " + shell_quote(k_payloads[0]) + " --db " + db).exit_code, 0);
  // The random backend reports no usage: give its four answers what a server would have said.
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(handle,
                         "UPDATE responses SET prompt_tokens = 150, completion_tokens = 25, latency_seconds = "
                         "0.1 * CAST(sample_id AS REAL) + 0.1, prompt_characters = 100, prompt_has_hangul = 1",
                         nullptr, nullptr, &error),
            SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  // A second run whose four answers came from the first one's cache.
  ASSERT_EQ(run_keval("run --backend random --tasks kobest_copa --limit 4 --no-progress --name again --db " + db).exit_code, 0);
  const std::string first = nlohmann::json::parse(run_keval("results --json --db " + db + " priced").out)["run"]["id"];
  const std::string again = nlohmann::json::parse(run_keval("results --json --db " + db + " again").out)["run"]["id"];
  EXPECT_EQ(sqlite3_exec(handle,
                         ("UPDATE responses SET from_cache = 1, cached_from_run = '" + first + "' WHERE run_id = '" + again + "'")
                             .c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(handle);
  ASSERT_EQ(run_keval("report --db " + db + " --out " + dir / "site").exit_code, 0);
  const std::string index = slurp(dir / "site/index.html");
  const std::string again_page = slurp(dir / ("site/runs/" + again + ".html"));
  EXPECT_NE(again_page.find("<li>4: <a href=\"../runs/" + first + ".html\">priced</a>"), std::string::npos) << again_page;
  EXPECT_NE(again_page.find("4 from the cache"), std::string::npos) << again_page;
  const size_t at = index.find("<table id=\"usage-table\"");
  ASSERT_NE(at, std::string::npos);
  const std::string table = index.substr(at, index.find("</table>", at) - at);
  for (const char* column : {"Requests", "Cached", "Tokens in", "Tokens out", "Latency p50 (s)", "Latency p90 (s)", "Cost (USD)",
                             "Tokens per 1,000 Korean characters"})
    EXPECT_NE(table.find(std::string(column) + "</th>"), std::string::npos) << column;
  const size_t row = table.find("<tr><td class=\"text\"><a href=\"runs/" + first);
  ASSERT_NE(row, std::string::npos) << table;
  const std::string cells = table.substr(row, table.find("</tr>", row) - row);
  const size_t other = table.find("<tr><td class=\"text\"><a href=\"runs/" + again);
  ASSERT_NE(other, std::string::npos);
  EXPECT_NE(table.find("title=\"4 from " + first + "\">4</td>", other), std::string::npos) << table;
  EXPECT_NE(cells.find(">600</td>"), std::string::npos) << cells;   // 4 × 150 tokens in
  EXPECT_NE(cells.find(">100</td>"), std::string::npos) << cells;   // 4 × 25 tokens out
  // 600 × $2/M + 100 × $10/M = $0.0022
  EXPECT_NE(cells.find(">0.0022</td>"), std::string::npos) << cells;
  EXPECT_NE(cells.find(">1500.0</td>"), std::string::npos) << cells;  // 150 tokens per 100 characters
  // The model name is a payload: escaped here too.
  EXPECT_EQ(cells.find("<script>"), std::string::npos);
  EXPECT_NE(cells.find("&lt;script&gt;"), std::string::npos) << cells;

  // `keval results` shows the same figures; --json carries them under "usage".
  auto json = run_keval("results --json --db " + db + " priced");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto usage = nlohmann::json::parse(json.out).at("usage");
  EXPECT_EQ(usage.at("prompt_tokens"), 600);
  EXPECT_EQ(usage.at("completion_tokens"), 100);
  EXPECT_EQ(usage.at("sent"), 4);
  EXPECT_EQ(usage.at("latency_n"), 4);
  EXPECT_NEAR(usage.at("cost_usd").get<double>(), 0.0022, 1e-12);
  EXPECT_EQ(usage.at("price_in"), 2.0);
  EXPECT_NEAR(usage.at("tokens_per_1000_korean_characters").get<double>(), 1500.0, 1e-9);
  // Prices given to `results` replace the recorded ones.
  auto repriced = run_keval("results --json --price-in 1 --db " + db + " priced");
  EXPECT_NEAR(nlohmann::json::parse(repriced.out).at("usage").at("cost_usd").get<double>(), 0.0006, 1e-12);
  auto text = run_keval("results --db " + db + " priced");
  EXPECT_NE(text.out.find("tokens in 600 out 100"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("cost: $0.0022"), std::string::npos) << text.out;
}

} // namespace
} // namespace keval
