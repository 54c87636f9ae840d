// Hostile servers and broken local programs, end to end (issue 13): the keval binary against
// keval-mock-server on 127.0.0.1 and against shell programs.
//  - secrets: a server that echoes the request's headers back (error bodies, 200 errors, answers,
//    upper-cased, JSON-escaped) leaves no key or header value in the database, its WAL, stdout,
//    stderr, the report site, JUnit or Markdown;
//  - bounded replies: an endless or huge body fails its request as too_large with keval's peak
//    memory measured (wait4's ru_maxrss), an endless error body keeps only its head;
//  - exec: --timeout bounds the time to a complete line, a line has a maximum length, and the
//    program's whole process group goes when keval stops it or is stopped by a signal;
//  - identical requests in one batch reach the server once (run and pairwise).
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "http/mock.h"

namespace keval {
namespace {

using testing::count_rows;
using testing::make_mock_task;
using testing::MockServer;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::write_file;
using Clock = std::chrono::steady_clock;

// keval started as a child of the test (not through a shell that outlives it), so the test can
// signal it and read its peak memory.
class KevalProcess {
public:
  // `env`: "NAME=value" assignments, already shell-quoted.
  KevalProcess(const ScratchDir& io, const std::string& args, const std::string& env = "")
      : m_out(io / "keval.out"), m_err(io / "keval.err"), m_started(Clock::now()) {
    std::string cmd = (env.empty() ? "" : "export " + env + "; ") + "exec " + KEVAL_BINARY + " " + args + " >" +
                      shell_quote(m_out) + " 2>" + shell_quote(m_err) + " </dev/null";
    m_pid = ::fork();
    if (m_pid == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~KevalProcess() {
    if (!m_waited && m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
  }
  pid_t pid() const { return m_pid; }
  void signal(int s) const { ::kill(m_pid, s); }

  struct Ended {
    int exit_code = -1;     // -1 when a signal ended it
    int signal = 0;
    bool hung = false;      // killed by wait() at its limit
    long max_rss_kb = 0;    // peak resident memory
    double seconds = 0;
    std::string out, err;
  };
  // Waits for keval to end, killing it past `limit` seconds: a test that would hang fails instead.
  Ended wait(double limit = 90) {
    Ended e;
    int status = 0;
    rusage usage{};
    const auto deadline = m_started + std::chrono::duration<double>(limit);
    while (::wait4(m_pid, &status, WNOHANG, &usage) == 0) {
      if (Clock::now() > deadline) {
        ::kill(m_pid, SIGKILL);
        ::wait4(m_pid, &status, 0, &usage);
        e.hung = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    m_waited = true;
    e.seconds = std::chrono::duration<double>(Clock::now() - m_started).count();
    if (WIFEXITED(status)) e.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
    e.max_rss_kb = usage.ru_maxrss;
    e.out = slurp(m_out);
    e.err = slurp(m_err);
    return e;
  }

private:
  std::string m_out, m_err;
  Clock::time_point m_started;
  pid_t m_pid = -1;
  bool m_waited = false;
};

// Peak memory of a hostile run against that of the same run with a well-behaved peer, so the
// bound holds whatever keval's own footprint (build type, allocator). Not under
// AddressSanitizer: its quarantine keeps freed memory resident by design.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool k_address_sanitizer = true;
#else
constexpr bool k_address_sanitizer = false;
#endif
void expect_peak_within(long peak_kb, long baseline_kb, long extra_mb, const std::string& what) {
  if (k_address_sanitizer) return;
  EXPECT_GT(baseline_kb, 0);
  EXPECT_LT(peak_kb, baseline_kb + extra_mb * 1024) << what << ": peak " << peak_kb / 1024 << " MB, the same run with a "
                                                    << "well-behaved peer " << baseline_kb / 1024 << " MB";
}

// Whether `pid` has ended (gone, or a zombie nobody reaps yet).
bool process_ended(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (stat.empty()) return true;
  auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z' || stat[paren + 2] == 'X';
}

bool ends_within(pid_t pid, double seconds) {
  auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    if (process_ended(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return process_ended(pid);
}

// The pid a program wrote to `path`, waiting for it to appear; 0 when it never does.
pid_t read_pid(const std::string& path, double seconds = 20) {
  auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    std::string s = slurp(path);
    if (!s.empty() && s.back() == '\n') return static_cast<pid_t>(std::stol(s));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

// Every file under `dir`, concatenated.
std::string slurp_tree(const std::filesystem::path& dir) {
  std::string out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) out += slurp(entry.path());
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Each secret (and its distinctive tail) in any case, looked for in `haystack`.
void expect_no_secret(const std::string& haystack, const std::vector<std::string>& secrets, const std::string& where) {
  const std::string folded = lower(haystack);
  for (const auto& s : secrets) {
    EXPECT_EQ(folded.find(lower(s)), std::string::npos) << s << " in " << where;
    EXPECT_EQ(folded.find(lower(s.substr(s.size() - 8))), std::string::npos) << s << " (its tail) in " << where;
  }
}

// KoMT-Bench answers for ids 81-90, the same in every run that replays them.
std::string komt_answers() {
  std::string out;
  for (int id = 81; id <= 90; ++id)
    out += nlohmann::json({{"task", "komt_bench"}, {"id", std::to_string(id)},
                           {"responses", {"하와이 여행 안내입니다. 답변 " + std::to_string(id), "다시 작성했습니다. 답변 " + std::to_string(id)}}})
               .dump() + "\n";
  return out;
}

TEST(SecretsEndToEnd, EchoingServerLeavesNoSecretAnywhere) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 24);
  MockServer mock("--echo-headers");
  ASSERT_GT(mock.port(), 0);
  const std::string api_key = "sk-Keval-Api/Key-7Fq2Lm9Zx4";
  const std::string openai_key = "sk-openai-fallback-Kq93hdP0";
  const std::string judge_key = "sk-Judge-Key-Ab12Cd34Ef";
  const std::string header_value = "hdr-Value-Xy77/Tt55\"q";
  const std::string bearer_token = "tok-In-Bearer-0099Pp";
  const std::string judge_header = "judge-Hdr-Secret-4477";
  const std::vector<std::string> secrets = {api_key, openai_key, judge_key, header_value, bearer_token, judge_header};
  const std::string env = "KEVAL_API_KEY=" + shell_quote(api_key) + " OPENAI_API_KEY=" + shell_quote(openai_key) +
                          " KEVAL_JUDGE_API_KEY=" + shell_quote(judge_key);
  const std::string db = dir / "k.db";
  const std::string headers = " --header " + shell_quote("X-Api-Key: " + header_value) + " --header " +
                              shell_quote("X-Upstream-Auth: Bearer " + bearer_token);
  std::string everything;
  for (const char* name : {"base", "cand"}) {
    auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress "
                                "--max-retries 1 --no-cache --name " + name + headers + " --base-url " + mock.url() +
                           " --db " + shell_quote(db), env + " ");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    everything += r.out + r.err;
  }
  // The server saw the key, and echoed it in each of its ways.
  EXPECT_EQ(mock.stats()["last_authorization"], "Bearer " + api_key);
  EXPECT_GE(mock.stats()["total"].get<long long>(), 48);
  // A judged dialogue task: the judge's key and header go to the same echoing server.
  write_file(dir / "answers.jsonl", komt_answers());
  auto judged = run_keval("run --tasks komt_bench --limit 10 --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                              " --no-progress --name judged --judge-backend openai-chat --judge-model j --max-retries 1"
                              " --judge-header " + shell_quote("X-Judge-Token: " + judge_header) +
                              " --judge-base-url " + mock.url() + " --db " + shell_quote(db),
                          env + " ");
  ASSERT_EQ(judged.exit_code, 1) << judged.err;  // no task got an answer: exit 1, saying why
  EXPECT_NE(judged.err.find("keval: "), std::string::npos) << judged.err;
  everything += judged.out + judged.err;
  for (const std::string& command : {global + " results --json --run base", global + " runs --json",
                                    global + " compare base cand --json", global + " results --run judged"}) {
    auto r = run_keval(command + " --db " + shell_quote(db), env + " ");
    EXPECT_EQ(r.exit_code, 0) << command << r.err;
    everything += r.out + r.err;
  }
  auto report = run_keval(global + " report --db " + shell_quote(db) + " --out " + shell_quote(dir / "site"), env + " ");
  EXPECT_EQ(report.exit_code, 0) << report.err;
  auto gate = run_keval(global + " gate --db " + shell_quote(db) + " --baseline base --candidate cand --junit " +
                            shell_quote(dir / "gate.xml") + " --markdown " + shell_quote(dir / "gate.md"), env + " ");
  EXPECT_NE(gate.exit_code, 2) << gate.err;
  everything += report.out + report.err + gate.out + gate.err;
  const std::string site = slurp_tree(dir.path() / "site");
  EXPECT_FALSE(site.empty());
  std::string stored = slurp(db) + slurp(db + "-wal");
  {
    // Every row as text too: the file's pages may hold a value split over overflow pages.
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    for (const char* sql : {"SELECT request_json || coalesce(text, '') || coalesce(failure_message, '') FROM responses",
                            "SELECT * FROM judgements", "SELECT * FROM runs", "SELECT * FROM cache"})
      sqlite3_exec(handle, sql, [](void* o, int n, char** v, char**) {
        for (int i = 0; i < n; ++i) *static_cast<std::string*>(o) += v[i] ? std::string(v[i]) + "\t" : "";
        return 0;
      }, &stored, nullptr);
    sqlite3_close(handle);
  }
  // The echoes were stored, redacted: what the server sent back is there, the secrets are not.
  EXPECT_NE(stored.find("X-Api-Key: [REDACTED]"), std::string::npos);
  EXPECT_NE(stored.find("X-JUDGE-TOKEN: [REDACTED]"), std::string::npos);  // the upper-cased echo
  EXPECT_NE(stored.find("HTTP 400"), std::string::npos);
  EXPECT_NE(stored.find("server error"), std::string::npos);              // a 200 {"error": …}
  expect_no_secret(stored, secrets, "the database and its WAL");
  expect_no_secret(everything, secrets, "stdout and stderr");
  expect_no_secret(site, secrets, "the report site");
  EXPECT_NE(slurp(dir / "gate.xml").find("<testsuite"), std::string::npos);
  EXPECT_FALSE(slurp(dir / "gate.md").empty());
  expect_no_secret(slurp(dir / "gate.xml") + slurp(dir / "gate.md"), secrets, "the gate's JUnit and Markdown");
}

TEST(SecretsEndToEnd, MalformedHeaderIsNotQuotedBack) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 2);
  auto r = run_keval(global + " run --tasks mock_mc --backend openai-chat --model m --base-url http://127.0.0.1:9/v1 "
                              "--header 'Bearer sk-no-colon-secret-1234' --db " + shell_quote(dir / "k.db"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("NAME:VALUE"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("no-colon-secret"), std::string::npos) << r.err;
}

// keval's run of 8 generation requests against `mock` with `options`, measured.
KevalProcess::Ended measured_run(const ScratchDir& dir, const std::string& global, const MockServer& mock,
                                 const std::string& options, const std::string& db) {
  KevalProcess keval(dir, global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress " +
                              options + " --base-url " + mock.url() + " --db " + shell_quote(dir / db));
  return keval.wait(60);
}

TEST(BodyCap, EndlessBodyFailsAtTheCapWithBoundedMemory) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 8);
  MockServer mock("--body-mode endless"), clean;
  const auto baseline = measured_run(dir, global, clean, "--concurrency 4 --max-retries 3 --timeout 60", "clean.db");
  ASSERT_EQ(baseline.exit_code, 0) << baseline.err;
  // 1 MiB cap: the server would send gigabytes within the 60 s timeout.
  auto small = measured_run(dir, global, mock, "--concurrency 4 --max-retries 3 --timeout 60 --max-response-bytes 1048576", "a.db");
  ASSERT_FALSE(small.hung);
  ASSERT_EQ(small.exit_code, 1) << small.err;  // no task got an answer: exit 1, saying why
  EXPECT_NE(small.err.find("keval: "), std::string::npos) << small.err;
  EXPECT_LT(small.seconds, 30);
  expect_peak_within(small.max_rss_kb, baseline.max_rss_kb, 48, "4 endless replies, 1 MiB cap");
  EXPECT_EQ(count_rows(dir / "a.db", "SELECT count(*) FROM responses WHERE failure_kind = 'too_large'"), 8);
  EXPECT_EQ(count_rows(dir / "a.db", "SELECT count(*) FROM responses WHERE failure_message LIKE '%1048576 bytes (--max-response-bytes)%'"), 8);
  EXPECT_EQ(mock.stats()["total"], 8);  // not retried: the next attempt would be as big
  // Failed, not scored as wrong.
  EXPECT_EQ(count_rows(dir / "a.db", "SELECT count(*) FROM scores WHERE status = 'failed'"), 8);
  EXPECT_EQ(count_rows(dir / "a.db", "SELECT n_failed FROM task_results"), 8);
  auto report = run_keval(global + " report --db " + shell_quote(dir / "a.db") + " --out " + shell_quote(dir / "site"));
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(slurp_tree(dir.path() / "site").find("too_large"), std::string::npos);  // the kind is shown
  // The default cap (16 MiB) bounds it too: two requests in flight stay far under a GiB.
  auto fallback = measured_run(dir, global, mock, "--concurrency 2 --max-retries 0 --timeout 60", "b.db");
  ASSERT_EQ(fallback.exit_code, 1) << fallback.err;  // no task got an answer
  expect_peak_within(fallback.max_rss_kb, baseline.max_rss_kb, 200, "2 endless replies, default 16 MiB cap");
  EXPECT_EQ(count_rows(dir / "b.db", "SELECT count(*) FROM responses WHERE failure_kind = 'too_large'"), 8);
}

TEST(BodyCap, EndlessErrorBodyKeepsOnlyItsHead) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 8);
  MockServer mock("--body-mode endless-error"), clean;
  const auto baseline = measured_run(dir, global, clean, "--concurrency 4 --max-retries 1 --timeout 20", "clean.db");
  auto r = measured_run(dir, global, mock, "--concurrency 4 --max-retries 1 --timeout 20", "k.db");
  ASSERT_FALSE(r.hung);
  ASSERT_EQ(r.exit_code, 1) << r.err;  // no task got an answer: exit 1, saying why
  EXPECT_NE(r.err.find("keval: "), std::string::npos) << r.err;
  EXPECT_LT(r.seconds, 30);
  expect_peak_within(r.max_rss_kb, baseline.max_rss_kb, 32, "endless error replies");
  EXPECT_EQ(count_rows(dir / "k.db", "SELECT count(*) FROM responses WHERE failure_kind = 'http_status' AND http_status = 500 "
                                     "AND length(failure_message) < 1000"), 8);
  EXPECT_EQ(mock.stats()["total"], 16);  // a 500 is still retried
}

TEST(BodyCap, HugeBodyFailsPastTheCapAndPassesUnderIt) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 3);
  MockServer mock("--body-mode huge --huge-bytes 3000000");
  auto capped = measured_run(dir, global, mock, "--max-retries 0 --max-response-bytes 1000000", "a.db");
  ASSERT_EQ(capped.exit_code, 1) << capped.err;  // no task got an answer: exit 1, saying why
  EXPECT_NE(capped.err.find("keval: "), std::string::npos) << capped.err;
  EXPECT_EQ(count_rows(dir / "a.db", "SELECT count(*) FROM responses WHERE failure_kind = 'too_large'"), 3);
  auto fine = measured_run(dir, global, mock, "--max-retries 0", "b.db");
  ASSERT_EQ(fine.exit_code, 0) << fine.err;
  EXPECT_EQ(count_rows(dir / "b.db", "SELECT count(*) FROM responses WHERE status = 'ok' AND length(text) = 3000000"), 3);
  auto bad = run_keval(global + " run --tasks mock_mc --backend openai-chat --model m --max-response-bytes 0 --base-url " +
                       mock.url() + " --db " + shell_quote(dir / "c.db"));
  EXPECT_EQ(bad.exit_code, 2);
}

// An exec program in a file: `body` is its shell text.
std::string program(const ScratchDir& dir, const std::string& name, const std::string& body) {
  write_file(dir.path() / name, "#!/bin/sh\n" + body + "\n");
  return "sh " + shell_quote(dir / name);
}

std::string exec_run(const std::string& global, const std::string& cmd, const std::string& db, const std::string& options) {
  return global + " run --tasks mock_mc --mc-mode generate --backend exec --no-progress " + options + " --cmd " +
         shell_quote(cmd) + " --db " + shell_quote(db);
}

TEST(ExecProcess, ChildrenGoAtTheEndOfTheRun) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 6);
  const std::string script = testing::source_dir() + "/tests/exec_model.py";
  // The program starts a child it never waits for, then answers well.
  const std::string cmd = program(dir, "forks.sh", "sleep 300 & echo $! > " + shell_quote(dir / "child.pid") +
                                                       "\nexec python3 " + shell_quote(script));
  KevalProcess keval(dir, exec_run(global, cmd, dir / "k.db", "--concurrency 2"));
  auto ended = keval.wait();
  ASSERT_EQ(ended.exit_code, 0) << ended.err;
  EXPECT_EQ(count_rows(dir / "k.db", "SELECT count(*) FROM responses WHERE status = 'ok'"), 6);
  const pid_t child = read_pid(dir / "child.pid", 1);
  ASSERT_GT(child, 0);
  EXPECT_TRUE(ends_within(child, 5)) << "the program's child outlived keval";
  if (!process_ended(child)) ::kill(child, SIGKILL);
  // keval stopping on an error (here: past --max-failures, exit 1) takes them too.
  const std::string broken = program(dir, "broken.sh", "sleep 300 & echo $! > " + shell_quote(dir / "child2.pid") +
                                                           "\nexec python3 " + shell_quote(script) + " --garbage");
  KevalProcess failing(dir, exec_run(global, broken, dir / "f.db", "--max-failures 0"));
  auto stopped = failing.wait();
  EXPECT_EQ(stopped.exit_code, 1) << stopped.err;
  const pid_t child2 = read_pid(dir / "child2.pid", 1);
  ASSERT_GT(child2, 0);
  EXPECT_TRUE(ends_within(child2, 5)) << "the program's child outlived keval's error";
  if (!process_ended(child2)) ::kill(child2, SIGKILL);
}

TEST(ExecProcess, TimeoutIsToACompleteLineAndKillsTheGroup) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 4);
  // A byte every 0.2 s, never a newline: each read is progress, no line ever completes.
  const std::string cmd = program(dir, "dribble.sh", "sleep 300 & echo $! > " + shell_quote(dir / "child.pid") +
                                                         "\nwhile :; do printf x; sleep 0.2; done");
  KevalProcess keval(dir, exec_run(global, cmd, dir / "k.db", "--timeout 2"));
  auto ended = keval.wait(30);
  ASSERT_FALSE(ended.hung) << "keval still waited after 30 s for a line that never completes";
  ASSERT_EQ(ended.exit_code, 1) << ended.err;  // no task got an answer: exit 1, saying why
  EXPECT_NE(ended.err.find("keval: "), std::string::npos) << ended.err;
  EXPECT_EQ(count_rows(dir / "k.db", "SELECT count(*) FROM responses WHERE failure_kind = 'timeout' "
                                     "AND failure_message LIKE '%no complete reply line for 2 s (--timeout)%'"), 4);
  const pid_t child = read_pid(dir / "child.pid", 1);
  ASSERT_GT(child, 0);
  EXPECT_TRUE(ends_within(child, 5)) << "the program's child outlived the timeout";
  if (!process_ended(child)) ::kill(child, SIGKILL);
}

TEST(ExecProcess, EndlessLineFailsAtTheCapWithBoundedMemory) {
  ScratchDir dir;
  const std::string global = make_mock_task(dir, 4);
  const std::string script = testing::source_dir() + "/tests/exec_model.py";
  KevalProcess well_behaved(dir, exec_run(global, "python3 " + shell_quote(script), dir / "clean.db", "--timeout 60"));
  const auto baseline = well_behaved.wait(30);
  ASSERT_EQ(baseline.exit_code, 0) << baseline.err;
  const std::string cmd = program(dir, "flood.sh", "exec tr -d '\\n' < /dev/zero");
  KevalProcess keval(dir, exec_run(global, cmd, dir / "k.db", "--timeout 60 --max-response-bytes 1000000"));
  auto ended = keval.wait(30);
  ASSERT_FALSE(ended.hung) << "keval still read the endless line after 30 s";
  ASSERT_EQ(ended.exit_code, 1) << ended.err;  // no task got an answer: exit 1, saying why
  EXPECT_NE(ended.err.find("keval: "), std::string::npos) << ended.err;
  expect_peak_within(ended.max_rss_kb, baseline.max_rss_kb, 32, "an endless line, 1 MB cap");
  EXPECT_EQ(count_rows(dir / "k.db", "SELECT count(*) FROM responses WHERE failure_kind = 'too_large'"), 4);
}

TEST(ExecProcess, SignalToKevalTakesTheProgramAndItsChildren) {
  for (int sig : {SIGINT, SIGTERM}) {
    ScratchDir dir;
    const std::string global = make_mock_task(dir, 4);
    // A program that starts a child and then never answers.
    const std::string cmd = program(dir, "hangs.sh", "sleep 300 & echo $! > " + shell_quote(dir / "child.pid") + "\necho $$ > " +
                                                         shell_quote(dir / "program.pid") + "\nexec sleep 300");
    KevalProcess keval(dir, exec_run(global, cmd, dir / "k.db", "--timeout 120"));
    const pid_t child = read_pid(dir / "child.pid");
    const pid_t leader = read_pid(dir / "program.pid");
    ASSERT_GT(child, 0);
    ASSERT_GT(leader, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    keval.signal(sig);
    auto ended = keval.wait(60);
    EXPECT_FALSE(ended.hung);
    EXPECT_EQ(ended.signal, sig) << "keval should end by the signal it got";
    EXPECT_LT(ended.seconds, 60);
    EXPECT_TRUE(ends_within(leader, 5)) << "the program outlived keval (signal " << sig << ")";
    EXPECT_TRUE(ends_within(child, 5)) << "the program's child outlived keval (signal " << sig << ")";
    for (pid_t p : {leader, child})
      if (!process_ended(p)) ::kill(p, SIGKILL);
  }
}

TEST(Dedupe, IdenticalRequestsOfABatchAreSentOnce) {
  ScratchDir dir;
  std::string global = make_mock_task(dir, 4);
  // 12 rows, 4 distinct: the same question three times each.
  std::string rows = slurp(dir.path() / "datasets/mock/mc.jsonl");
  write_file(dir.path() / "datasets/mock/mc.jsonl", rows + rows + rows);
  MockServer mock;
  auto r = run_keval(global + " run --tasks mock_mc --mc-mode generate --backend openai-chat --model m --no-progress --no-cache "
                              "--base-url " + mock.url() + " --db " + shell_quote(dir / "k.db"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(mock.stats()["total"], 4);
  EXPECT_EQ(count_rows(dir / "k.db", "SELECT count(*) FROM responses WHERE status = 'ok'"), 12);
  EXPECT_EQ(count_rows(dir / "k.db", "SELECT count(*) FROM scores WHERE status = 'scored'"), 12);
  // The exec backend goes through the same dispatch: 4 lines for 12 requests.
  const std::string script = testing::source_dir() + "/tests/exec_model.py";
  const std::string cmd = program(dir, "counts.sh", "tee -a " + shell_quote(dir / "requests.jsonl") + " | python3 " + shell_quote(script));
  auto e = run_keval(exec_run(global, cmd, dir / "e.db", "--no-cache"));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const std::string sent = slurp(dir / "requests.jsonl");
  EXPECT_EQ(std::count(sent.begin(), sent.end(), '\n'), 4);
  EXPECT_EQ(count_rows(dir / "e.db", "SELECT count(*) FROM responses WHERE status = 'ok'"), 12);
}

TEST(Dedupe, PairwiseOfIdenticalAnswersAsksEachPromptOnce) {
  ScratchDir dir;
  write_file(dir / "answers.jsonl", komt_answers());
  write_file(dir / "rules.jsonl", nlohmann::json({{"when", ""}, {"reply", "두 답변은 같습니다. [[C]]"}}).dump() + "\n");
  const std::string db = dir / "k.db";
  for (const char* name : {"a", "b"}) {
    auto r = run_keval(std::string("run --tasks komt_bench --limit 10 --backend replay --no-progress --responses ") +
                       shell_quote(dir / "answers.jsonl") + " --name " + name + " --db " + shell_quote(db));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  MockServer judge("--replies " + shell_quote(dir / "rules.jsonl"));
  auto r = run_keval("pairwise a b --json --no-progress --no-cache --judge-backend openai-chat --judge-model j --judge-base-url " +
                     judge.url() + " --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 10 questions x 2 turns x 2 orders = 40 verdicts, but with the same answers on both sides
  // the two orders are one prompt: 20 requests.
  EXPECT_EQ(judge.stats()["total"], 20);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["overall"]["n"], 20);
  EXPECT_EQ(j["overall"]["tie"], 20);
}

} // namespace
} // namespace keval
