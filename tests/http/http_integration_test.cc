// The HTTP and exec backends end to end: the keval binary against keval-mock-server on
// 127.0.0.1 (faults, kill -9 and resume, log-likelihood, secrets, status handling).
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include <sqlite3.h>

#include "http/mock.h"

namespace keval {
namespace {

using testing::make_mock_task;
using testing::count_rows;
using testing::MockServer;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::stored_prompts;
using testing::write_file;

// (task, metric) -> {value, n, n_failed} of a run's results.
std::map<std::string, nlohmann::json> scores(const std::string& global, const std::string& db, const std::string& run = "") {
  auto r = run_keval(global + " results --json --db " + shell_quote(db) + (run.empty() ? "" : " --run " + run));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return out;
  for (const auto& t : j["tasks"])
    out[t["task"].get<std::string>() + "/" + t["metric"].get<std::string>()] = {{"value", t["value"]}, {"n", t["n"]}, {"n_failed", t["n_failed"]}};
  out["status"] = j["run"]["status"];
  return out;
}

// Every row of every table, as text, for looking for what must not be there.
std::string dump_database(const std::string& path) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  std::vector<std::string> tables;
  sqlite3_exec(db, "SELECT name FROM sqlite_master WHERE type = 'table'", [](void* t, int, char** v, char**) {
    static_cast<std::vector<std::string>*>(t)->push_back(v[0]);
    return 0;
  }, &tables, nullptr);
  for (const auto& t : tables) {
    sqlite3_exec(db, ("SELECT * FROM \"" + t + "\"").c_str(), [](void* o, int n, char** v, char**) {
      for (int i = 0; i < n; ++i) *static_cast<std::string*>(o) += v[i] ? std::string(v[i]) + "\t" : "NULL\t";
      *static_cast<std::string*>(o) += "\n";
      return 0;
    }, &out, nullptr);
  }
  sqlite3_close(db);
  return out;
}



TEST(Http, FaultsChangeNothing) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 300);
  MockServer clean;
  MockServer flaky("--p500 0.10 --p429 0.05 --pdrop 0.02 --pmalformed 0.01 --retry-after 0 --seed 7");
  ASSERT_GT(clean.port(), 0);
  ASSERT_GT(flaky.port(), 0);
  std::string run = " run --tasks mock_mc --mc-mode generate --model m --no-progress --concurrency 16 --max-retries 8";
  auto a = run_keval(global + run + " --backend openai-chat --base-url " + clean.url() + " --db " + dir / "clean.db");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = run_keval(global + run + " --backend openai-chat --base-url " + flaky.url() + " --db " + dir / "flaky.db");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto sa = scores(global, dir / "clean.db"), sb = scores(global, dir / "flaky.db");
  EXPECT_EQ(sa, sb);
  EXPECT_EQ(sb["status"], "complete");
  EXPECT_EQ(sb["mock_mc/acc"]["n"], 300);
  EXPECT_EQ(sb["mock_mc/acc"]["n_failed"], 0);
  // Half the items carry the marker the mock answers: at least those are right.
  EXPECT_GE(sb["mock_mc/acc"]["value"].get<double>(), 0.5);
  EXPECT_EQ(count_rows(dir / "flaky.db", "SELECT count(*) FROM responses WHERE status = 'ok'"), 300);
  auto stats = flaky.stats();
  EXPECT_GT(stats["total"].get<long long>(), 300);            // faults were met and retried
  EXPECT_TRUE(stats["repeated_after_success"].empty()) << stats["repeated_after_success"].dump();  // each answered once
}

TEST(Http, IdenticalRunIsAnsweredFromTheCache) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 40);
  MockServer mock;
  std::string cmd = global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress --base-url " +
                    mock.url() + " --db " + dir / "k.db";
  ASSERT_EQ(run_keval(cmd).exit_code, 0);
  ASSERT_EQ(mock.stats()["total"], 40);
  ASSERT_EQ(run_keval(cmd).exit_code, 0);
  EXPECT_EQ(mock.stats()["total"], 40);  // nothing sent
  EXPECT_EQ(count_rows(dir / "k.db", "SELECT count(*) FROM responses WHERE from_cache = 1"), 40);
  ASSERT_EQ(run_keval(cmd + " --no-cache").exit_code, 0);
  EXPECT_EQ(mock.stats()["total"], 80);
}

TEST(Http, LoglikelihoodPicksTheChoiceTheServerFavours) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 40);
  MockServer mock;
  auto r = run_keval(global + " run --tasks mock_mc --mc-mode loglik --backend openai-completions --model m --no-progress --json "
                              "--base-url " + mock.url() + " --db " + dir / "k.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = scores(global, dir / "k.db");
  // The marked half is always right; the unmarked half has no marker to favour.
  double acc = s["mock_mc/acc"]["value"];
  EXPECT_GE(acc, 0.5);
  // One request per sample, all choices in it, and the one probe that found prompt log-probs.
  EXPECT_EQ(mock.stats()["per_path"]["/v1/completions"], 41);
  // Chat endpoints give no log-probs: refused before any request.
  auto chat = run_keval(global + " run --tasks mock_mc --mc-mode loglik --backend openai-chat --model m --no-progress "
                                 "--base-url " + mock.url() + " --db " + dir / "c.db");
  EXPECT_EQ(chat.exit_code, 2);
  EXPECT_EQ(mock.stats()["per_path"].value("/v1/chat/completions", 0), 0);
}

TEST(Http, KilledRunsResumeToTheSameScores) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 800);
  MockServer reference_mock("--latency-ms 10");
  // Slow enough that three kills (0.7 to 0.9 s each) land before the run ends: a kill loses at
  // most 50 ms of answers, so each round keeps nearly all it did.
  MockServer mock("--latency-ms 25");
  std::string run = " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress --concurrency 4";
  ASSERT_EQ(run_keval(global + run + " --base-url " + reference_mock.url() + " --db " + dir / "ref.db").exit_code, 0);
  std::string db = dir / "k.db";
  std::string keval = std::string(KEVAL_BINARY) + " " + global;
  // Start, kill -9 after a while; resume and kill again; then let it finish.
  std::string start = keval + run + " --name victim --base-url " + mock.url() + " --db " + db;
  std::string resume = keval + " run --resume victim --no-progress --db " + db;
  // After each kill: what was stored, and how often the mock had been asked each prompt.
  std::vector<std::pair<std::set<std::string>, nlohmann::json>> at_kill;
  for (int round = 0; round < 3; ++round) {
    std::string cmd = (round == 0 ? start : resume) + " >/dev/null 2>&1 & pid=$!; sleep " + std::to_string(0.7 + 0.1 * round) +
                      "; kill -9 $pid; wait $pid";
    std::system(cmd.c_str());
    at_kill.emplace_back(stored_prompts(db, "SELECT request_json FROM responses WHERE status = 'ok'"), mock.stats(true)["prompt_counts"]);
  }
  auto last = run_keval(global + " run --resume victim --no-progress --db " + db);
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(scores(global, dir / "ref.db"), scores(global, db));
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM responses WHERE status = 'ok'"), 800);
  // No request whose response was stored went out again after that.
  auto final_counts = mock.stats(true)["prompt_counts"];
  size_t stored = 0;
  for (const auto& [prompts, counts] : at_kill) {
    stored = std::max(stored, prompts.size());
    for (const auto& p : prompts) EXPECT_EQ(final_counts.value(p, 0), counts.value(p, 0)) << p;
  }
  EXPECT_GT(stored, 0u);  // the kills did land mid-run with work stored
  EXPECT_LT(at_kill.back().first.size(), 800u);
}

TEST(Http, ApiKeyAppearsNowhere) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 30);
  MockServer mock("--p500 0.3 --fault-attempts 5");
  const std::string key = "sk-keval-test-9f8e7d6c5b4a";
  auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress "
                              "--max-retries 0 --base-url " + mock.url() + " --db " + dir / "k.db");
  // The same run with the key in the environment.
  std::string env = "KEVAL_API_KEY=" + key + " ";
  auto with_key = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m "
                                "--no-progress --max-retries 0 --no-cache --base-url " + mock.url() + " --db " + dir / "k.db", env);
  EXPECT_EQ(mock.stats()["last_authorization"], "Bearer " + key);  // it was sent
  auto results = run_keval(global + " results --json --db " + dir / "k.db", env);
  auto runs = run_keval(global + " runs --json --db " + dir / "k.db", env);
  std::string everything = with_key.out + with_key.err + results.out + results.err + runs.out + dump_database(dir / "k.db") +
                           slurp(dir / "k.db") + slurp(dir / "k.db-wal");
  EXPECT_NE(everything.find("HTTP 500"), std::string::npos);  // failures were recorded, with their message
  EXPECT_EQ(everything.find(key), std::string::npos);
  EXPECT_EQ(everything.find("9f8e7d6c5b4a"), std::string::npos);
}

TEST(Http, ClientErrorsAreNotRetried) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 5);
  MockServer mock("--always-status 400");
  auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress "
                              "--base-url " + mock.url() + " --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 1) << r.err;  // every request failed: exit 1, saying why
  EXPECT_NE(r.err.find("every request of run"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HTTP 400"), std::string::npos) << r.err;
  EXPECT_EQ(mock.stats()["total"], 5);  // one attempt each
  auto s = scores(global, dir / "k.db");
  EXPECT_EQ(s["mock_mc/acc"]["n_failed"], 5);
  std::string rows = dump_database(dir / "k.db");
  EXPECT_NE(rows.find("HTTP 400"), std::string::npos);
  EXPECT_NE(rows.find("answers every request with this status"), std::string::npos);  // the body's excerpt
}

TEST(Http, RetryAfterIsHonoured) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 3);
  MockServer mock("--p429 1 --fault-attempts 1 --retry-after 2");
  auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress "
                              "--base-url " + mock.url() + " --db " + dir / "k.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto stats = mock.stats();
  EXPECT_EQ(stats["total"], 6);
  EXPECT_GE(stats["min_retry_gap_ms"].get<double>(), 1900.0);  // not the 0.25–0.5 s of its own backoff
  EXPECT_EQ(scores(global, dir / "k.db")["mock_mc/acc"]["n_failed"], 0);
}

TEST(Http, TooManyFailuresAbortTheRun) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 100);
  MockServer mock("--always-status 503");
  auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress "
                              "--max-retries 0 --concurrency 2 --max-failures 5% --name capped --base-url " + mock.url() +
                              " --db " + dir / "k.db");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--max-failures"), std::string::npos) << r.err;
  EXPECT_LT(mock.stats()["total"].get<int>(), 20);  // stopped sending
  auto runs = run_keval(global + " runs --json --db " + dir / "k.db");
  EXPECT_NE(runs.out.find("aborted"), std::string::npos) << runs.out;
  auto bad = run_keval(global + " run --tasks mock_mc --backend openai-chat --model m --max-failures lots --base-url " + mock.url() +
                       " --db " + dir / "k.db");
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(Http, ReplicasShareTheLoadAndRpsPacesIt) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 20);
  MockServer a, b;
  auto started = std::chrono::steady_clock::now();
  auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress --rps 40 "
                              "--base-url " + a.url() + " --base-url " + b.url() + " --db " + dir / "k.db");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(a.stats()["total"], 10);
  EXPECT_EQ(b.stats()["total"], 10);
  EXPECT_GE(seconds, 19 / 40.0);  // 20 requests at 40 per second: the last starts after 0.475 s
}

// POSTs `body` to `url` as it is; the reply's body ("" when the request failed).
std::string post(const std::string& url, const std::string& body) {
  std::string reply;
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return rc == CURLE_OK ? reply : "";
}

// What is stored is what was sent: the body with --max-tokens 1 in it, and sent again as it is,
// the server answers it as it answered the run.
TEST(Http, StoredRequestIsTheBodySentAndCanBeSentAgain) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 12);
  MockServer mock;
  const std::string db = dir / "k.db";
  auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --max-tokens 1 "
                              "--no-progress --base-url " + mock.url() + " --db " + shell_quote(db),
                     "KEVAL_API_KEY=sk-never-stored-42 ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::pair<std::string, std::string>> rows;  // (request_json, text)
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_exec(handle, "SELECT request_json, text FROM responses WHERE status = 'ok'", [](void* o, int, char** v, char**) {
    static_cast<std::vector<std::pair<std::string, std::string>>*>(o)->emplace_back(v[0], v[1] ? v[1] : "");
    return 0;
  }, &rows, nullptr);
  sqlite3_close(handle);
  ASSERT_EQ(rows.size(), 12u);
  for (const auto& [request, text] : rows) {
    const auto body = nlohmann::json::parse(request);
    EXPECT_EQ(body["max_tokens"], 1) << request;  // the override, not the task's 256
    EXPECT_EQ(body["model"], "m");
    ASSERT_TRUE(body.contains("messages"));
    EXPECT_EQ(request.find("sk-never-stored-42"), std::string::npos);
    const auto reply = nlohmann::json::parse(post(mock.url() + "/chat/completions", request), nullptr, false);
    ASSERT_FALSE(reply.is_discarded());
    EXPECT_EQ(reply["choices"][0]["message"]["content"], text);
  }
  EXPECT_EQ(mock.stats()["total"], 24);  // 12 in the run, 12 sent again
}

TEST(Exec, ProgramAnswersAndItsCrashIsResumable) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 20);
  std::string script = testing::source_dir() + "/tests/exec_model.py";
  // Generation and log-likelihood through a well-behaved program.
  for (const char* mode : {"generate", "loglik"}) {
    auto r = run_keval(global + " run --tasks mock_mc --backend exec --no-progress --concurrency 4 --mc-mode " + mode +
                       " --cmd " + shell_quote("python3 " + script) + " --db " + dir / (std::string(mode) + ".db"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto s = scores(global, dir / (std::string(mode) + ".db"));
    EXPECT_EQ(s["mock_mc/acc"]["n_failed"], 0) << mode;
    EXPECT_GE(s["mock_mc/acc"]["value"].get<double>(), 0.5) << mode;
  }
  // A program that dies after 5 replies the first time it is started.
  std::string flag = dir / "crashed-once";
  auto r = run_keval(global + " run --tasks mock_mc --backend exec --no-progress --concurrency 2 --mc-mode generate --name flaky --cmd " +
                     shell_quote("python3 " + script + " --crash-after 5 --crash-flag " + flag) + " --db " + dir / "c.db");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string rows = dump_database(dir / "c.db");
  EXPECT_NE(rows.find("exec program 'python3"), std::string::npos);
  EXPECT_NE(rows.find("exit status 3"), std::string::npos);
  auto failed = scores(global, dir / "c.db");
  EXPECT_GT(failed["mock_mc/acc"]["n_failed"].get<int>(), 0);
  auto resumed = run_keval(global + " run --resume flaky --no-progress --db " + dir / "c.db");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto s = scores(global, dir / "c.db");
  EXPECT_EQ(s["status"], "complete");
  EXPECT_EQ(s["mock_mc/acc"]["n_failed"], 0);
  // Garbage on stdout fails the samples as malformed, naming the program.
  auto garbage = run_keval(global + " run --tasks mock_mc --backend exec --no-progress --mc-mode generate --cmd " +
                           shell_quote("python3 " + script + " --garbage") + " --db " + dir / "g.db");
  EXPECT_EQ(garbage.exit_code, 1) << garbage.err;  // every request failed: exit 1, saying why
  EXPECT_NE(garbage.err.find("wrote a line that is not a reply"), std::string::npos) << garbage.err;
  EXPECT_NE(dump_database(dir / "g.db").find("wrote a line that is not a reply"), std::string::npos);
}

} // namespace
} // namespace keval
