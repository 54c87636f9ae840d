#include "store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "error.h"
#include "support/errors.h"

namespace keval {
namespace {

using testing::expect_input_error;

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory under the system's temporary directory (honours TMPDIR).
std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
  return pattern;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// Raw SQL on a database, outside Store, to check what is really on disk.
class RawDb {
public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path);
    }
  }
  ~RawDb() { sqlite3_close(m_db); }
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error(message + " in " + sql);
    }
  }
  // The first column of every row; NULL reads as "<null>".
  std::vector<std::string> column(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string(sqlite3_errmsg(m_db)) + " in " + sql);
    }
    std::vector<std::string> out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out.push_back(text ? text : "<null>");
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string(sqlite3_errmsg(m_db)) + " in " + sql);
    return out;
  }
  std::string one(const std::string& sql) {
    auto rows = column(sql);
    if (rows.size() != 1) throw std::runtime_error("expected one row from " + sql);
    return rows[0];
  }

private:
  sqlite3* m_db = nullptr;
};

// What schema 3 added (usage, latency, cache sources), taken away again: a file as schema 2 left it.
constexpr const char* k_drop_schema_3 =
    "ALTER TABLE responses DROP COLUMN latency_seconds; ALTER TABLE responses DROP COLUMN prompt_tokens; "
    "ALTER TABLE responses DROP COLUMN completion_tokens; ALTER TABLE responses DROP COLUMN prompt_characters; "
    "ALTER TABLE responses DROP COLUMN prompt_has_hangul; ALTER TABLE responses DROP COLUMN cached_from_run; "
    "ALTER TABLE cache DROP COLUMN run_id;";

RunRecord make_run(const std::string& id, const std::string& name, const std::string& created_at = "") {
  RunRecord run;
  run.id = id;
  run.name = name;
  run.model = "exaone-3.5-7.8b";
  run.backend = "openai-chat";
  run.config = {{"tasks", {"kobest_copa", "kmmlu_accounting"}}, {"limit", 100}, {"설명", "한국어 설정"}};
  run.config_hash = std::string(64, 'a');
  run.keval_version = "0.1.0";
  run.task_versions = {{"kobest_copa", {{"version", 1}, {"hash", "abc"}}}};
  run.status = "running";
  run.created_at = created_at.empty() ? utc_now_iso8601() : created_at;
  return run;
}


class StoreTest : public ::testing::Test {
protected:
  void SetUp() override {
    m_dir = make_temp_dir("keval_store_test_");
    m_path = (m_dir / "keval.db").string();
  }
  void TearDown() override { fs::remove_all(m_dir); }

  fs::path m_dir;
  std::string m_path;
};

TEST_F(StoreTest, CreatesMarksAndReopens) {
  const std::string nested = (m_dir / "results" / "deeper" / "keval.db").string();
  {
    Store store(nested, true);
    EXPECT_EQ(store.path(), nested);
    store.create_run(make_run("0123456789ab", "첫 실행"));
  }
  {
    RawDb raw(nested);
    EXPECT_EQ(raw.one("PRAGMA application_id"), std::to_string(0x6B45564C));
    EXPECT_EQ(raw.one("SELECT value FROM meta WHERE key = 'schema_version'"), "3");
    EXPECT_EQ(raw.one("PRAGMA journal_mode"), "wal");
  }
  Store again(nested, false);
  ASSERT_TRUE(again.find_run("첫 실행"));
  EXPECT_EQ(again.list_runs().size(), 1u);
}

TEST_F(StoreTest, MissingFileWithoutCreate) {
  EXPECT_EQ(expect_input_error([&] { Store store(m_path, false); }), "no keval database at " + m_path);
  EXPECT_FALSE(fs::exists(m_path));
}

TEST_F(StoreTest, EmptyFileIsInitialisedOnlyWhenCreating) {
  write_file(m_path, "");
  EXPECT_EQ(expect_input_error([&] { Store store(m_path, false); }), "no keval database at " + m_path);
  EXPECT_EQ(fs::file_size(m_path), 0u);
  { Store store(m_path, true); }
  Store store(m_path, false);
  EXPECT_TRUE(store.list_runs().empty());
}

TEST_F(StoreTest, TextFileIsNotADatabase) {
  const std::string text = "이것은 데이터베이스가 아닙니다.\nid,text\n1,안녕\n" + std::string(5000, 'x');
  write_file(m_path, text);
  for (bool create : {false, true}) {
    EXPECT_EQ(expect_input_error([&] { Store store(m_path, create); }),
              m_path + " is not a keval database (not SQLite)");
    EXPECT_EQ(slurp(m_path), text);
  }
  const std::string tiny = (m_dir / "tiny.txt").string();
  write_file(tiny, "hello\n");
  EXPECT_EQ(expect_input_error([&] { Store store(tiny, true); }), tiny + " is not a keval database (not SQLite)");
  EXPECT_EQ(slurp(tiny), "hello\n");
}

TEST_F(StoreTest, ForeignSqliteFileIsLeftByteIdentical) {
  {
    RawDb raw(m_path);
    raw.exec("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('메모');");
  }
  const std::string before = slurp(m_path);
  ASSERT_FALSE(before.empty());
  for (bool create : {false, true}) {
    EXPECT_EQ(expect_input_error([&] { Store store(m_path, create); }),
              m_path + " is not a keval database (it has other tables)");
    EXPECT_EQ(slurp(m_path), before);
  }
  EXPECT_FALSE(fs::exists(m_path + "-wal"));
  RawDb raw(m_path);
  EXPECT_EQ(raw.one("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(raw.one("SELECT body FROM notes"), "메모");
}

TEST_F(StoreTest, ForeignApplicationIdWithoutTables) {
  {
    RawDb raw(m_path);
    raw.exec("PRAGMA application_id = 42");
  }
  const std::string before = slurp(m_path);
  const std::string message = expect_input_error([&] { Store store(m_path, true); });
  EXPECT_EQ(message.rfind(m_path + " is not a keval database", 0), 0u) << message;
  EXPECT_EQ(slurp(m_path), before);
}

TEST_F(StoreTest, NewerSchemaIsRefused) {
  { Store store(m_path, true); }
  {
    RawDb raw(m_path);
    raw.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'");
  }
  const std::string message = expect_input_error([&] { Store store(m_path, false); });
  EXPECT_NE(message.find(m_path), std::string::npos) << message;
  EXPECT_NE(message.find("schema version 4"), std::string::npos) << message;
}

TEST_F(StoreTest, RunRoundTrip) {
  Store store(m_path, true);
  RunRecord run = make_run("a1b2c3d4e5f6", "기준 실행", "2026-11-23T20:15:03.123Z");
  store.create_run(run);

  for (const std::string& key : {std::string("a1b2c3d4e5f6"), std::string("기준 실행")}) {
    auto found = store.find_run(key);
    ASSERT_TRUE(found) << key;
    EXPECT_EQ(found->id, run.id);
    EXPECT_EQ(found->name, run.name);
    EXPECT_EQ(found->model, run.model);
    EXPECT_EQ(found->backend, run.backend);
    EXPECT_EQ(found->config, run.config);
    EXPECT_EQ(found->config_hash, run.config_hash);
    EXPECT_EQ(found->keval_version, run.keval_version);
    EXPECT_EQ(found->task_versions, run.task_versions);
    EXPECT_EQ(found->status, "running");
    EXPECT_EQ(found->created_at, run.created_at);
    EXPECT_EQ(found->updated_at, "");
    EXPECT_EQ(found->finished_at, "");
  }
  EXPECT_FALSE(store.find_run("없는 실행"));
  EXPECT_FALSE(store.find_run(""));
}

TEST_F(StoreTest, FindRunPrefersIdOverName) {
  Store store(m_path, true);
  store.create_run(make_run("111111111111", "222222222222"));
  store.create_run(make_run("222222222222", "other"));
  EXPECT_EQ(store.find_run("222222222222")->name, "other");
}

TEST_F(StoreTest, AbsentOptionalsAreNull) {
  {
    Store store(m_path, true);
    RunRecord run = make_run("000000000001", "no-model");
    run.model.clear();
    store.create_run(run);
    EXPECT_EQ(store.find_run("no-model")->model, "");
    store.put_response(run.id, "t", "s", 0, json::object(), Response::failed(FailureKind::timeout, "느림"));
    store.put_score(run.id, StoredScore{"t", "s", "failed", "", json()});
    TaskResult r;
    r.task = "t";
    r.metric = "acc";
    store.put_task_results(run.id, {r});
  }
  RawDb raw(m_path);
  EXPECT_EQ(raw.one("SELECT model FROM runs"), "<null>");
  EXPECT_EQ(raw.one("SELECT updated_at FROM runs"), "<null>");
  EXPECT_EQ(raw.one("SELECT text FROM responses"), "<null>");
  EXPECT_EQ(raw.one("SELECT logprobs_json FROM responses"), "<null>");
  EXPECT_EQ(raw.one("SELECT http_status FROM responses"), "<null>");
  EXPECT_EQ(raw.one("SELECT failure_message FROM responses"), "느림");
  EXPECT_EQ(raw.one("SELECT failure_kind FROM responses"), to_string(FailureKind::timeout));
  EXPECT_EQ(raw.one("SELECT status FROM responses"), "failed");
  EXPECT_EQ(raw.one("SELECT extracted FROM scores"), "<null>");
  EXPECT_EQ(raw.one("SELECT score_json FROM scores"), "<null>");
  EXPECT_EQ(raw.one("SELECT value FROM task_results"), "<null>");
  EXPECT_EQ(raw.one("SELECT aggregation FROM task_results"), "<null>");
}

TEST_F(StoreTest, DuplicateNameIsAnInputError) {
  Store store(m_path, true);
  store.create_run(make_run("aaaaaaaaaaaa", "나의 실행"));
  EXPECT_EQ(expect_input_error([&] { store.create_run(make_run("bbbbbbbbbbbb", "나의 실행")); }),
            "a run named 나의 실행 already exists in " + m_path);
  // The failed insert leaves the statement reusable.
  store.create_run(make_run("cccccccccccc", "다른 실행"));
  EXPECT_EQ(store.list_runs().size(), 2u);
}

TEST_F(StoreTest, ListRunsNewestFirstAndLatest) {
  Store store(m_path, true);
  EXPECT_FALSE(store.latest_run());
  EXPECT_TRUE(store.list_runs().empty());
  store.create_run(make_run("000000000001", "old", "2026-01-01T00:00:00.000Z"));
  store.create_run(make_run("000000000002", "newest-a", "2026-03-01T00:00:00.000Z"));
  store.create_run(make_run("000000000003", "middle", "2026-02-01T00:00:00.000Z"));
  // Same timestamp: the one written later is newer.
  store.create_run(make_run("000000000004", "newest-b", "2026-03-01T00:00:00.000Z"));
  std::vector<std::string> names;
  for (const auto& r : store.list_runs()) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"newest-b", "newest-a", "middle", "old"}));
  EXPECT_EQ(store.latest_run()->name, "newest-b");
}

TEST_F(StoreTest, SetRunStatusStampsTimes) {
  Store store(m_path, true);
  store.create_run(make_run("000000000001", "r"));
  store.set_run_status("000000000001", "running");
  auto run = store.find_run("r");
  EXPECT_EQ(run->status, "running");
  EXPECT_FALSE(run->updated_at.empty());
  EXPECT_TRUE(run->finished_at.empty());

  for (const char* status : {"complete", "incomplete", "failed", "aborted"}) {
    store.set_run_status("000000000001", status);
    run = store.find_run("r");
    EXPECT_EQ(run->status, status);
    EXPECT_FALSE(run->finished_at.empty());
    EXPECT_GE(run->finished_at, run->created_at);
  }
  store.set_run_status("000000000001", "running"); // resumed
  EXPECT_TRUE(store.find_run("r")->finished_at.empty());
  EXPECT_THROW(store.set_run_status("nope", "complete"), std::runtime_error);
}

TEST_F(StoreTest, ResponsesRoundTrip) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "run one"));
  store.create_run(make_run("r2", "run two"));

  const json request = {{"messages", {{{"role", "user"}, {"content", "다음 문장의 원인은? \"비가 왔다\""}}}},
                        {"max_tokens", 256}};
  Response generated;
  generated.text = "정답은 2번입니다.\n이유: 비가 와서 땅이 젖었다.";
  generated.from_cache = true;
  Response empty_generation; // an empty answer is still an answer
  Response loglikelihood;
  loglikelihood.logprobs = {-0.31, -1.7200000000000002, -std::numeric_limits<double>::infinity(), 0.0};
  Response http_failure = Response::failed(FailureKind::http_status, "HTTP 429: 요청이 너무 많습니다");
  http_failure.http_status = 429;

  store.put_response("r1", "kobest_copa", "7", 0, request, generated);
  store.put_response("r1", "kobest_copa", "8", 0, request, empty_generation);
  store.put_response("r1", "kobest_copa", "9", 0, request, loglikelihood);
  store.put_response("r1", "kobest_copa", "10", 0, request, http_failure);
  store.put_response("r1", "logickor", "3", 0, request, generated);
  store.put_response("r1", "logickor", "3", 1, json::object(), Response::failed(FailureKind::aborted, ""));
  store.put_response("r2", "kobest_copa", "7", 0, request, empty_generation);

  auto ok = store.load_ok_responses("r1");
  ASSERT_EQ(ok.size(), 4u);
  EXPECT_EQ(ok.at("kobest_copa/7/0").text, generated.text);
  EXPECT_TRUE(ok.at("kobest_copa/7/0").from_cache);
  EXPECT_TRUE(ok.at("kobest_copa/8/0").ok());
  EXPECT_EQ(ok.at("kobest_copa/8/0").text, "");
  EXPECT_FALSE(ok.at("kobest_copa/8/0").from_cache);
  const auto& lp = ok.at("kobest_copa/9/0").logprobs;
  ASSERT_EQ(lp.size(), 4u);
  EXPECT_EQ(lp[0], -0.31);
  EXPECT_EQ(lp[1], -1.7200000000000002); // bit-exact
  EXPECT_TRUE(std::isinf(lp[2]) && lp[2] < 0);
  EXPECT_EQ(lp[3], 0.0);
  EXPECT_TRUE(ok.count("logickor/3/0"));
  EXPECT_FALSE(ok.count("logickor/3/1"));
  EXPECT_FALSE(ok.count("kobest_copa/10/0"));

  auto copa = store.load_responses("r1", "kobest_copa");
  ASSERT_EQ(copa.size(), 4u);
  std::map<std::string, StoredResponse> by_id;
  for (auto& r : copa) {
    EXPECT_EQ(r.task, "kobest_copa");
    by_id[r.sample_id] = r;
  }
  const Response& failed = by_id.at("10").response;
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.failure, FailureKind::http_status);
  EXPECT_EQ(failed.message, "HTTP 429: 요청이 너무 많습니다");
  EXPECT_EQ(failed.http_status, 429);
  EXPECT_EQ(failed.text, "");

  auto dialogue = store.load_responses("r1", "logickor");
  ASSERT_EQ(dialogue.size(), 2u);
  EXPECT_EQ(dialogue[0].turn, 0);
  EXPECT_EQ(dialogue[1].turn, 1);
  EXPECT_EQ(dialogue[1].response.failure, FailureKind::aborted);

  EXPECT_EQ(store.load_request("r1", "kobest_copa", "7", 0), request);
  EXPECT_EQ(store.load_request("r1", "logickor", "3", 1), json::object());
  EXPECT_FALSE(store.load_request("r1", "kobest_copa", "7", 1));
  EXPECT_EQ(store.load_ok_responses("r2").size(), 1u);
  EXPECT_TRUE(store.load_responses("r3", "kobest_copa").empty());
}

TEST_F(StoreTest, EveryFailureKindRoundTrips) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "run"));
  const FailureKind kinds[] = {FailureKind::missing,   FailureKind::transport, FailureKind::timeout,
                               FailureKind::http_status, FailureKind::malformed, FailureKind::backend,
                               FailureKind::aborted};
  int i = 0;
  for (FailureKind k : kinds) {
    store.put_response("r1", "t", std::to_string(i++), 0, json::object(), Response::failed(k, to_string(k)));
  }
  auto rows = store.load_responses("r1", "t");
  ASSERT_EQ(rows.size(), std::size(kinds));
  for (const auto& row : rows) {
    const FailureKind expected = kinds[std::stoi(row.sample_id)];
    EXPECT_EQ(row.response.failure, expected) << row.sample_id;
    EXPECT_EQ(row.response.message, to_string(expected));
  }
}

TEST_F(StoreTest, PutResponseReplacesTheTurn) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "run"));
  store.put_response("r1", "t", "s", 0, json::object(), Response::failed(FailureKind::timeout, "시간 초과"));
  Response retried;
  retried.text = "두 번째 시도";
  store.put_response("r1", "t", "s", 0, {{"retry", true}}, retried);
  auto rows = store.load_responses("r1", "t");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].response.ok());
  EXPECT_EQ(rows[0].response.text, "두 번째 시도");
  EXPECT_EQ(rows[0].response.message, "");
  EXPECT_EQ(store.load_request("r1", "t", "s", 0), (json{{"retry", true}}));
}

TEST_F(StoreTest, ResponsesNeedAnExistingRun) {
  Store store(m_path, true);
  EXPECT_THROW(store.put_response("ghost", "t", "s", 0, json::object(), Response()), std::runtime_error);
}

TEST_F(StoreTest, ScoresRoundTrip) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "run"));
  store.create_run(make_run("r2", "run 2"));
  const json record = {{"correct", true}, {"pred", 1}, {"judge", {"평가: 좋음\n점수: 9"}}};
  store.put_score("r1", {"kobest_copa", "1", "scored", "2번", record});
  store.put_score("r1", {"kobest_copa", "2", "unparsed", "모르겠습니다", {{"correct", false}}});
  store.put_score("r1", {"kmmlu", "5", "failed", "", json()});
  store.put_score("r2", {"kobest_copa", "1", "scored", "1번", record});
  store.put_score("r1", {"kobest_copa", "2", "scored", "1번", {{"correct", true}}}); // replaces

  auto copa = store.load_scores("r1", "kobest_copa");
  ASSERT_EQ(copa.size(), 2u);
  EXPECT_EQ(copa[0].sample_id, "1");
  EXPECT_EQ(copa[0].status, "scored");
  EXPECT_EQ(copa[0].extracted, "2번");
  EXPECT_EQ(copa[0].score, record);
  EXPECT_EQ(copa[1].status, "scored");
  EXPECT_EQ(copa[1].extracted, "1번");

  auto all = store.load_all_scores("r1");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].task, "kmmlu");
  EXPECT_EQ(all[0].status, "failed");
  EXPECT_TRUE(all[0].score.is_null());
  EXPECT_EQ(all[0].extracted, "");
}

TEST_F(StoreTest, TaskResultsReplaceInOrder) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "run"));
  store.create_run(make_run("r2", "run 2"));

  TaskResult copa;
  copa.task = "kobest_copa";
  copa.metric = "acc";
  copa.value = 0.512;
  copa.stderr_value = 0.0158;
  copa.ci_low = 0.48;
  copa.ci_high = 0.54;
  copa.n = 1000;
  copa.n_failed = 3;
  copa.n_unparsed = 7;
  TaskResult group;
  group.task = "kobest";
  group.metric = "acc";
  group.value = 0.6;
  group.is_group = true;
  group.aggregation = "macro";
  group.n = 5000;
  TaskResult undefined;
  undefined.task = "logickor";
  undefined.metric = "score";

  store.put_task_results("r2", {copa});
  store.put_task_results("r1", {undefined, copa});
  store.begin();
  store.put_task_results("r1", {copa, group, undefined});
  store.commit();

  auto results = store.load_task_results("r1");
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].task, "kobest_copa");
  EXPECT_EQ(results[0].value, 0.512);
  EXPECT_EQ(results[0].stderr_value, 0.0158);
  EXPECT_EQ(results[0].ci_low, 0.48);
  EXPECT_EQ(results[0].ci_high, 0.54);
  EXPECT_EQ(results[0].n, 1000);
  EXPECT_EQ(results[0].n_failed, 3);
  EXPECT_EQ(results[0].n_unparsed, 7);
  EXPECT_FALSE(results[0].is_group);
  EXPECT_EQ(results[0].aggregation, "");
  EXPECT_EQ(results[1].task, "kobest");
  EXPECT_TRUE(results[1].is_group);
  EXPECT_EQ(results[1].aggregation, "macro");
  EXPECT_FALSE(results[1].stderr_value);
  EXPECT_EQ(results[2].task, "logickor");
  EXPECT_FALSE(results[2].value);
  EXPECT_FALSE(results[2].ci_low);

  EXPECT_EQ(store.load_task_results("r2").size(), 1u);
  store.put_task_results("r1", {});
  EXPECT_TRUE(store.load_task_results("r1").empty());
  EXPECT_EQ(store.load_task_results("r2").size(), 1u);
}

TEST_F(StoreTest, FailedTaskResultsReplacementKeepsTheOldRows) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "run"));
  TaskResult a;
  a.task = "a";
  a.metric = "acc";
  store.put_task_results("r1", {a});
  // The same key twice violates the primary key half-way through.
  TaskResult b = a;
  b.task = "b";
  EXPECT_THROW(store.put_task_results("r1", {b, b}), std::runtime_error);
  auto results = store.load_task_results("r1");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].task, "a");
}

TEST_F(StoreTest, CacheRoundTrip) {
  Store store(m_path, true);
  EXPECT_FALSE(store.cache_get("missing"));

  Response generated;
  generated.text = "서울은 대한민국의 수도입니다.";
  store.cache_put("k1", generated);
  Response loglikelihood;
  loglikelihood.logprobs = {-0.25, -3.5, -std::numeric_limits<double>::infinity()};
  store.cache_put("k2", loglikelihood);
  Response failed = Response::failed(FailureKind::http_status, "HTTP 500");
  failed.http_status = 500;
  store.cache_put("k3", failed);

  auto g = store.cache_get("k1");
  ASSERT_TRUE(g);
  EXPECT_TRUE(g->ok());
  EXPECT_EQ(g->text, generated.text);
  EXPECT_TRUE(g->from_cache);
  auto l = store.cache_get("k2");
  ASSERT_TRUE(l);
  ASSERT_EQ(l->logprobs.size(), 3u);
  EXPECT_EQ(l->logprobs[0], -0.25);
  EXPECT_EQ(l->logprobs[1], -3.5);
  EXPECT_TRUE(std::isinf(l->logprobs[2]));
  EXPECT_EQ(l->text, "");
  auto f = store.cache_get("k3");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->failure, FailureKind::http_status);
  EXPECT_EQ(f->message, "HTTP 500");
  EXPECT_EQ(f->http_status, 500);

  Response replaced;
  replaced.text = "새 답";
  store.cache_put("k1", replaced);
  EXPECT_EQ(store.cache_get("k1")->text, "새 답");
}

TEST_F(StoreTest, RollbackLeavesNothing) {
  {
    Store store(m_path, true);
    store.rollback(); // no transaction: nothing to do, no error
    store.begin();
    store.create_run(make_run("r1", "rolled back"));
    store.put_response("r1", "t", "s", 0, json::object(), Response());
    store.put_score("r1", {"t", "s", "scored", "x", {{"correct", true}}});
    store.cache_put("k", Response());
    store.rollback();
    EXPECT_FALSE(store.find_run("r1"));
    EXPECT_TRUE(store.load_ok_responses("r1").empty());
    EXPECT_FALSE(store.cache_get("k"));

    store.begin();
    store.create_run(make_run("r2", "committed"));
    store.put_response("r2", "t", "s", 0, json::object(), Response());
    store.commit();
  }
  {
    // A transaction still open when the Store goes away is not committed.
    Store store(m_path, false);
    store.begin();
    store.create_run(make_run("r3", "abandoned"));
  }
  Store store(m_path, false);
  EXPECT_FALSE(store.find_run("r1"));
  EXPECT_FALSE(store.find_run("r3"));
  ASSERT_TRUE(store.find_run("committed"));
  EXPECT_EQ(store.load_ok_responses("r2").size(), 1u);
  RawDb raw(m_path);
  EXPECT_EQ(raw.one("SELECT count(*) FROM responses"), "1");
  EXPECT_EQ(raw.one("SELECT count(*) FROM scores"), "0");
}

TEST_F(StoreTest, TwoStoresShareTheDatabase) {
  Store writer(m_path, true);
  Store reader(m_path, false);
  writer.create_run(make_run("r1", "shared"));
  EXPECT_TRUE(reader.find_run("shared"));
}

TEST(StoreTime, UtcNowIsIso8601WithMilliseconds) {
  const std::string now = utc_now_iso8601();
  EXPECT_TRUE(std::regex_match(now, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)"))) << now;
  EXPECT_GE(now, "2024-01-01T00:00:00.000Z");
}

// The runner writes responses in batches; a process killed mid-batch must leave every earlier
// batch intact and nothing of the interrupted one.
TEST_F(StoreTest, SigkillMidTransactionLeavesWholeBatches) {
  constexpr int k_batch = 10;
  {
    Store store(m_path, true);
    store.create_run(make_run("r1", "crash"));
  } // no connection may cross fork()

  const std::string long_text = [] {
    std::string s;
    for (int i = 0; i < 200; ++i) s += "모델의 긴 답변입니다. ";
    return s;
  }();
  const auto text_for = [&](const std::string& id) { return id + ":" + long_text; };

  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      try {
        Store store(m_path, false);
        for (int batch = 0; batch < 1000000; ++batch) {
          store.begin();
          for (int i = 0; i < k_batch; ++i) {
            // Built by appending: GCC 12's -Wrestrict misfires on "literal" + std::string&&.
            std::string id = "r";
            id.append(std::to_string(round)).append("-b").append(std::to_string(batch));
            id.append("-").append(std::to_string(i));
            Response r;
            r.text = text_for(id);
            store.put_response("r1", "kobest_copa", id, 0, {{"id", id}, {"prompt", long_text}}, r);
          }
          store.commit();
          if (batch < 3) { // tell the parent that batches are landing
            const char c = 'c';
            if (write(fds[1], &c, 1) != 1) _exit(4);
          }
        }
      } catch (...) {
        _exit(3);
      }
      _exit(0);
    }
    close(fds[1]);
    char buffer[3];
    size_t got = 0;
    while (got < sizeof buffer) {
      const ssize_t n = read(fds[0], buffer + got, sizeof buffer - got);
      ASSERT_GT(n, 0) << "the writer died before committing three batches";
      got += static_cast<size_t>(n);
    }
    close(fds[0]);
    usleep(static_cast<useconds_t>(2000 + round * 7000)); // land at different points of the loop
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "writer exited early, status " << status;
  }

  {
    RawDb raw(m_path);
    EXPECT_EQ(raw.one("PRAGMA integrity_check"), "ok");
    EXPECT_TRUE(raw.column("PRAGMA foreign_key_check").empty()) << "dangling rows";
  }
  Store store(m_path, false);
  const auto rows = store.load_responses("r1", "kobest_copa");
  ASSERT_GE(rows.size(), 3u * 3u * k_batch);
  EXPECT_EQ(rows.size() % k_batch, 0u) << rows.size() << " rows";
  std::map<std::string, int> per_batch;
  for (const auto& row : rows) {
    ASSERT_TRUE(row.response.ok()) << row.sample_id;
    ASSERT_EQ(row.response.text, text_for(row.sample_id)) << row.sample_id;
    auto request = store.load_request("r1", "kobest_copa", row.sample_id, 0);
    ASSERT_TRUE(request);
    ASSERT_EQ(request->at("id"), row.sample_id);
    ++per_batch[row.sample_id.substr(0, row.sample_id.rfind('-'))];
  }
  for (const auto& [batch, count] : per_batch) EXPECT_EQ(count, k_batch) << batch;
  // The database still takes writes after the crash.
  store.put_response("r1", "after", "1", 0, json::object(), Response());
  EXPECT_EQ(store.load_ok_responses("r1").count("after/1/0"), 1u);
}


// A database written before the judge (schema 1: no judgements table, no n_judge_failed column)
// is upgraded in place when opened, and then holds judge results like a fresh one.
TEST_F(StoreTest, SchemaOneIsUpgradedForTheJudge) {
  {
    Store store(m_path, true);
    store.create_run(make_run("r1", "run"));
  }
  {
    RawDb raw(m_path);
    raw.exec(k_drop_schema_3);
    raw.exec("DROP TABLE judgements");
    raw.exec("ALTER TABLE task_results DROP COLUMN n_judge_failed");
    raw.exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    ASSERT_EQ(raw.one("SELECT count(*) FROM sqlite_master WHERE name = 'judgements'"), "0");
  }

  Store store(m_path, false);
  ASSERT_TRUE(store.find_run("r1")) << "the upgrade must keep existing runs";

  TaskResult komt;
  komt.task = "komt_bench";
  komt.metric = "judge_score";
  komt.value = 6.25;
  komt.n = 78;
  komt.n_judge_failed = 2;
  store.put_task_results("r1", {komt});
  const auto results = store.load_task_results("r1");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].n_judge_failed, 2);
  EXPECT_EQ(results[0].value, 6.25);

  StoredJudgement verdict;
  verdict.task = "komt_bench";
  verdict.sample_id = "111";
  verdict.turn = 1;
  verdict.attempt = 0;
  verdict.status = "ok";
  verdict.response.text = "참조 답변과 일치합니다. 점수: [[9]]";
  verdict.rating = 9;
  StoredJudgement failed = verdict;
  failed.attempt = 1;
  failed.status = "failed";
  failed.response = Response::failed(FailureKind::timeout, "judge timed out");
  failed.rating.reset();
  store.put_judgement("r1", verdict, json{{"model", "judge"}});
  store.put_judgement("r1", failed, json{{"model", "judge"}});
  const auto judgements = store.load_judgements("r1", "komt_bench");
  ASSERT_EQ(judgements.size(), 2u);
  EXPECT_EQ(judgements[0].sample_id, "111");
  EXPECT_EQ(judgements[0].turn, 1);
  EXPECT_EQ(judgements[0].status, "ok");
  EXPECT_EQ(judgements[0].response.text, verdict.response.text);
  EXPECT_EQ(judgements[0].rating, 9.0);
  EXPECT_EQ(judgements[1].attempt, 1);
  EXPECT_EQ(judgements[1].status, "failed");
  EXPECT_EQ(judgements[1].response.failure, FailureKind::timeout);
  EXPECT_FALSE(judgements[1].rating);

  RawDb raw(m_path);
  EXPECT_EQ(raw.one("SELECT value FROM meta WHERE key = 'schema_version'"), "3");
}


// ---------------------------------------------------------------------------------------------
// CommitPacer: queued writes, short transactions.

Response answer_text(const std::string& text) {
  Response r;
  r.text = text;
  return r;
}

// A write waits in memory, not in an open transaction: another process can take the write
// lock at once, and the timer commits the write within the interval without any further call.
TEST_F(StoreTest, PacerCommitsOnItsTimerAndHoldsNoLockMeanwhile) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "paced"));
  CommitPacer pacer(store, 1000, std::chrono::milliseconds(50));
  pacer.put_response("r1", "kobest_copa", "1", 0, json{{"prompt", "질문"}}, answer_text("정답은 A입니다."));
  {
    RawDb other(m_path);
    other.exec("PRAGMA busy_timeout = 0");
    EXPECT_NO_THROW(other.exec("BEGIN IMMEDIATE; COMMIT;")) << "a queued write must not hold the write lock";
  }
  const auto start = std::chrono::steady_clock::now();
  std::string seen;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    RawDb other(m_path);
    seen = other.one("SELECT count(*) FROM responses");
    if (seen == "1") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(seen, "1");
  EXPECT_LT(waited, std::chrono::milliseconds(1000)) << "the timer should commit within its 50 ms interval";
}

TEST_F(StoreTest, PacerCommitsAFullBatchAtOnceInOrder) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "paced"));
  CommitPacer pacer(store, 3, std::chrono::hours(1)); // only the batch size can commit here
  pacer.put_response("r1", "t", "1", 0, json::object(), answer_text("첫 답"));
  pacer.put_response("r1", "t", "1", 0, json::object(), answer_text("고친 답")); // the same turn again
  {
    RawDb other(m_path);
    EXPECT_EQ(other.one("SELECT count(*) FROM responses"), "0");
  }
  StoredScore score;
  score.task = "t";
  score.sample_id = "1";
  score.status = "scored";
  score.score = json{{"acc", 1}};
  pacer.put_score("r1", score);  // the third write: committed before put_score returns
  RawDb other(m_path);
  EXPECT_EQ(other.one("SELECT text FROM responses"), "고친 답") << "writes land in the order they were queued";
  EXPECT_EQ(other.one("SELECT count(*) FROM scores"), "1");
  pacer.cache_put("key", answer_text("캐시"));
  pacer.flush();
  EXPECT_EQ(other.one("SELECT count(*) FROM cache"), "1");
}

// A batch that fails is rolled back whole, and the failure reaches the caller.
TEST_F(StoreTest, PacerFailureRollsBackTheBatchAndIsRethrown) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "paced"));
  CommitPacer pacer(store, 1000, std::chrono::milliseconds(10));
  pacer.put_response("r1", "t", "1", 0, json::object(), answer_text("답"));
  pacer.put_response("no-such-run", "t", "2", 0, json::object(), answer_text("답")); // foreign key fails
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the timer's commit fails
  EXPECT_THROW(pacer.flush(), std::runtime_error);
  RawDb other(m_path);
  EXPECT_EQ(other.one("SELECT count(*) FROM responses"), "0");
}

// ---------------------------------------------------------------------------------------------
// Read-only access.

TEST_F(StoreTest, ReaderOfAnOlderSchemaChangesNothing) {
  {
    Store store(m_path, true);
    store.create_run(make_run("r1", "old"));
    TaskResult result;
    result.task = "kobest_copa";
    result.metric = "acc";
    result.value = 0.75;
    result.n = 4;
    store.put_task_results("r1", {result});
  }
  {
    RawDb raw(m_path);
    raw.exec(k_drop_schema_3);
    raw.exec("DROP TABLE judgements");
    raw.exec("ALTER TABLE task_results DROP COLUMN n_judge_failed");
    raw.exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
  }
  const std::string before = slurp(m_path);
  {
    Store reader(m_path, StoreAccess::read_only);
    const auto results = reader.load_task_results("r1");
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].value, 0.75);
    EXPECT_EQ(results[0].n_judge_failed, 0);
    EXPECT_TRUE(reader.load_judgements("r1", "kobest_copa").empty());
    // A reader never writes.
    try {
      reader.set_run_status("r1", "complete");
      ADD_FAILURE() << "a read-only store wrote";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("read-only"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(slurp(m_path) == before);
  RawDb raw(m_path);
  EXPECT_EQ(raw.one("SELECT value FROM meta WHERE key = 'schema_version'"), "1");
}

TEST_F(StoreTest, ReaderNeedsAnExistingKevalDatabase) {
  EXPECT_NE(expect_input_error([&] { Store(m_path, StoreAccess::read_only); }).find("no keval database"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(m_path)) << "a reader created the file";
  write_file(m_path, "");
  EXPECT_NE(expect_input_error([&] { Store(m_path, StoreAccess::read_only); }).find("no keval database"),
            std::string::npos);
  EXPECT_EQ(slurp(m_path), "");
}

// Damaged stored text is the file's fault: an InputError naming it, not an internal error.
TEST_F(StoreTest, CorruptStoredJsonIsAnInputError) {
  {
    Store store(m_path, true);
    store.create_run(make_run("r1", "bad"));
  }
  {
    RawDb raw(m_path);
    raw.exec("UPDATE runs SET config_json = '{\"tasks\": [' WHERE id = 'r1'");
  }
  Store store(m_path, StoreAccess::read_only);
  EXPECT_NE(expect_input_error([&] { store.find_run("r1"); }).find("is damaged: corrupt JSON in runs.config_json"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Usage, latency and the cache's source runs (schema 3).

Response answered(const std::string& text, double latency, std::optional<long long> in, std::optional<long long> out) {
  Response r;
  r.text = text;
  r.latency_seconds = latency;
  r.prompt_tokens = in;
  r.completion_tokens = out;
  return r;
}

TEST_F(StoreTest, UsageIsStoredPerResponseAndTotalledForTheRun) {
  Store store(m_path, true);
  store.create_run(make_run("r1", "usage"));
  const json korean = {{"type", "generate"}, {"messages", {{{"role", "user"}, {"content", "한국의 수도는?"}}}}};  // 8 characters
  store.put_response("r1", "t", "1", 0, korean, answered("서울", 0.5, 20, 2));
  store.put_response("r1", "t", "2", 0, korean, answered("부산", 1.5, 20, 3));
  store.put_response("r1", "t", "3", 0, json{{"prompt", "capital?"}}, answered("x", 2.5, std::nullopt, std::nullopt));
  store.put_response("r1", "t", "4", 0, korean, Response::failed(FailureKind::timeout, "timed out"));

  const auto loaded = store.load_responses("r1", "t");
  ASSERT_EQ(loaded.size(), 4u);
  EXPECT_DOUBLE_EQ(loaded[0].response.latency_seconds, 0.5);
  EXPECT_EQ(loaded[0].response.prompt_tokens, 20);
  EXPECT_EQ(loaded[1].response.completion_tokens, 3);
  EXPECT_FALSE(loaded[2].response.prompt_tokens) << "no usage reported stays unknown, not 0";
  RawDb raw(m_path);
  EXPECT_EQ(raw.one("SELECT prompt_tokens FROM responses WHERE sample_id = '3'"), "<null>");
  EXPECT_EQ(raw.one("SELECT latency_seconds FROM responses WHERE sample_id = '4'"), "<null>");
  EXPECT_EQ(raw.one("SELECT prompt_characters FROM responses WHERE sample_id = '1'"), "8");

  const RunUsage u = store.run_usage("r1");
  EXPECT_EQ(u.responses, 4);
  EXPECT_EQ(u.sent, 4);
  EXPECT_EQ(u.failed, 1);
  EXPECT_EQ(u.cached, 0);
  EXPECT_EQ(u.prompt_tokens, 40);
  EXPECT_EQ(u.completion_tokens, 5);
  EXPECT_EQ(u.with_usage, 2);
  EXPECT_EQ(u.latency_n, 3);
  EXPECT_DOUBLE_EQ(*u.latency_p50, 1.5);
  EXPECT_NEAR(*u.latency_p90, 2.3, 1e-12);
  EXPECT_NEAR(*u.tokens_per_1000_korean_characters, 1000.0 * 40 / 16, 1e-9);
  EXPECT_TRUE(u.requests_per_second);
  EXPECT_EQ(store.run_usage("other").responses, 0);
}

TEST_F(StoreTest, CacheRemembersTheRunThatFirstStoredEachAnswer) {
  Store store(m_path, true);
  store.create_run(make_run("first", "first"));
  store.create_run(make_run("second", "second"));
  store.cache_put("k1", answered("서울", 0.4, 12, 2), "first");
  store.cache_put("k1", answered("서울", 0.3, 12, 2), "second");  // the same answer again: still the first run's
  auto hit = store.cache_get("k1");
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->from_cache);
  EXPECT_EQ(hit->cached_from_run, "first");
  EXPECT_EQ(hit->prompt_tokens, 12);
  EXPECT_EQ(hit->latency_seconds, 0) << "a cached answer took no time";
  store.cache_put("k2", answered("부산", 0.4, 12, 2), "first");
  store.cache_put("k2", answered("대구", 0.4, 12, 2), "second");  // sent again (--no-cache), another answer
  EXPECT_EQ(store.cache_get("k2")->cached_from_run, "second");

  // A run answered from the cache stores where each answer came from.
  store.create_run(make_run("third", "third"));
  store.put_response("third", "t", "1", 0, json::object(), *store.cache_get("k1"));
  store.put_response("third", "t", "2", 0, json::object(), *store.cache_get("k2"));
  store.put_response("third", "t", "3", 0, json::object(), answered("새 답", 0.2, 5, 1));
  EXPECT_EQ(store.load_responses("third", "t")[0].response.cached_from_run, "first");
  const RunUsage u = store.run_usage("third");
  EXPECT_EQ(u.cached, 2);
  EXPECT_EQ(u.sent, 1);
  EXPECT_EQ(u.cached_from, (std::map<std::string, long long>{{"first", 1}, {"second", 1}}));
  EXPECT_EQ(u.prompt_tokens, 5) << "cached answers cost nothing";
}

// A schema-2 file, written with schema 2's own statements, as keval 2's users have them.
void write_schema_two(const std::string& path) {
  RawDb raw(path);
  raw.exec("PRAGMA application_id = " + std::to_string(0x6B45564C));
  raw.exec(R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE runs(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, model TEXT, backend TEXT NOT NULL,
  config_json TEXT NOT NULL, config_hash TEXT NOT NULL, keval_version TEXT NOT NULL, task_versions_json TEXT NOT NULL,
  status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT, finished_at TEXT);
CREATE TABLE responses(run_id TEXT NOT NULL REFERENCES runs(id), task TEXT NOT NULL, sample_id TEXT NOT NULL,
  turn INTEGER NOT NULL, request_json TEXT NOT NULL, status TEXT NOT NULL, text TEXT, logprobs_json TEXT,
  failure_kind TEXT, failure_message TEXT, http_status INTEGER, from_cache INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, PRIMARY KEY(run_id, task, sample_id, turn));
CREATE TABLE scores(run_id TEXT NOT NULL REFERENCES runs(id), task TEXT NOT NULL, sample_id TEXT NOT NULL,
  status TEXT NOT NULL, extracted TEXT, score_json TEXT, PRIMARY KEY(run_id, task, sample_id));
CREATE TABLE task_results(run_id TEXT NOT NULL REFERENCES runs(id), task TEXT NOT NULL, metric TEXT NOT NULL,
  value REAL, stderr REAL, ci_low REAL, ci_high REAL, n INTEGER NOT NULL, n_failed INTEGER NOT NULL,
  n_unparsed INTEGER NOT NULL, is_group INTEGER NOT NULL, aggregation TEXT, n_judge_failed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(run_id, task, metric));
CREATE TABLE cache(key TEXT PRIMARY KEY, response_json TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE judgements(run_id TEXT NOT NULL REFERENCES runs(id), task TEXT NOT NULL, sample_id TEXT NOT NULL,
  turn INTEGER NOT NULL, attempt INTEGER NOT NULL, request_json TEXT NOT NULL, status TEXT NOT NULL, text TEXT,
  rating REAL, failure_kind TEXT, failure_message TEXT, from_cache INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
  PRIMARY KEY(run_id, task, sample_id, turn, attempt));
INSERT INTO meta(key, value) VALUES ('schema_version', '2');
INSERT INTO runs VALUES ('r2', 'old run', 'm', 'openai-chat', '{"tasks": []}', 'h', '0.1.0', '{}', 'complete',
  '2026-01-01T00:00:00.000Z', NULL, NULL);
INSERT INTO responses(run_id, task, sample_id, turn, request_json, status, text, from_cache, created_at)
  VALUES ('r2', 't', '1', 0, '{"messages": [{"role": "user", "content": "질문"}]}', 'ok', '답', 0, '2026-01-01T00:00:01.000Z'),
         ('r2', 't', '2', 0, '{}', 'ok', '답', 1, '2026-01-01T00:00:02.000Z');
INSERT INTO cache VALUES ('k', '{"text": "답"}', '2026-01-01T00:00:01.000Z');
INSERT INTO judgements VALUES ('r2', 't', '1', 0, 0, '{}', 'ok', '점수: [[8]]', 8, NULL, NULL, 0, '2026-01-01T00:00:03.000Z');
)sql");
}

TEST_F(StoreTest, SchemaTwoIsReadAsItIsAndUpgradedByWriters) {
  write_schema_two(m_path);
  const std::string before = slurp(m_path);
  {
    Store reader(m_path, StoreAccess::read_only);
    const auto rows = reader.load_responses("r2", "t");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].response.text, "답");
    EXPECT_FALSE(rows[0].response.prompt_tokens);
    const RunUsage u = reader.run_usage("r2");
    EXPECT_EQ(u.responses, 2);
    EXPECT_EQ(u.cached, 1);
    EXPECT_EQ(u.cached_from.at(""), 1) << "a cached answer of an older file comes from an unknown run";
    EXPECT_FALSE(u.prompt_tokens);
    EXPECT_FALSE(u.latency_p50);
    EXPECT_EQ(u.judge_sent, 1);
    const auto verdicts = reader.load_judgements("r2", "t");
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts[0].rating, 8.0);
    EXPECT_FALSE(verdicts[0].response.prompt_tokens);
  }
  EXPECT_TRUE(slurp(m_path) == before) << "a reader changed the file";

  Store store(m_path, false);
  RawDb raw(m_path);
  EXPECT_EQ(raw.one("SELECT value FROM meta WHERE key = 'schema_version'"), "3");
  EXPECT_EQ(store.cache_get("k")->cached_from_run, "");
  EXPECT_EQ(store.run_usage("r2").responses, 2);
  store.put_response("r2", "t", "3", 0, json::object(), answered("새 답", 0.7, 9, 1));
  EXPECT_EQ(store.run_usage("r2").prompt_tokens, 9);
  store.cache_put("k", answered("새 답", 0.7, 9, 1), "r2");
  EXPECT_EQ(store.cache_get("k")->cached_from_run, "r2");
  // The judge's verdicts keep their usage too.
  StoredJudgement verdict;
  verdict.task = "t";
  verdict.sample_id = "3";
  verdict.status = "ok";
  verdict.response = answered("점수: [[9]]", 1.2, 300, 40);
  verdict.rating = 9;
  store.put_judgement("r2", verdict, json::object());
  EXPECT_EQ(store.load_judgements("r2", "t").back().response.completion_tokens, 40);
  const RunUsage judged = store.run_usage("r2");
  EXPECT_EQ(judged.judge_sent, 2);
  EXPECT_EQ(judged.judge_prompt_tokens, 300);
  EXPECT_EQ(judged.prompt_tokens, 9) << "the judge's tokens are not the model's";
  EXPECT_NE(format_usage(judged, Prices{}).find("judge: 2 requests sent, 0 from the cache; tokens in 300 out 40"),
            std::string::npos);
}

} // namespace
} // namespace keval
