// End to end, the storage guarantees (README "What keval guarantees"): several processes on one
// database at once, one writer per run, at most a tenth of a second of answers lost to kill -9,
// and every damaged, foreign, read-only or full file refused with exit 2 and left as it was.
#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace keval {
namespace {

using testing::CommandResult;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::write_file;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A generated multiple-choice task of `n` Korean questions under dir/tasks and dir/datasets.
void make_task(const ScratchDir& dir, int n) {
  write_file(dir.path() / "tasks/st/st_mc.yaml", R"(task: st_mc
suite: st
version: 1
licence: "generated"
dataset:
  file: st/mc.jsonl
  format: jsonl
output_type: multiple_choice
prompt: "질문 {{q}}\n답:"
generation_prompt: "질문 {{q}}\n{{options}}\n답:"
choices_field: choices
choice_labels: [A, B, C, D]
target:
  field: gold
  kind: index
scorer: multiple_choice
metrics: [acc]
)");
  std::string rows;
  for (int i = 0; i < n; ++i) {
    rows += nlohmann::json{{"q", std::to_string(i) + "번 문제의 답은 무엇인가? 한국어로 된 긴 질문입니다."},
                           {"choices", {"사과", "배", "감", "귤"}},
                           {"gold", i % 4}}
                .dump(-1, ' ', false) +
            "\n";
  }
  write_file(dir.path() / "datasets/st/mc.jsonl", rows);
}

// A local model for the exec backend that takes `delay` seconds per request and appends each
// request's id to `log` once its reply is written: the log is what keval was answered.
std::string slow_model(const ScratchDir& dir, double delay, const std::string& log) {
  const std::string script = dir / "slow_model.py";
  write_file(script, R"(import json, sys, time
delay = float(sys.argv[1])
log = open(sys.argv[2], "a")
for line in sys.stdin:
    req = json.loads(line)
    time.sleep(delay)
    if req["type"] == "loglikelihood":
        reply = {"id": req["id"], "logprobs": [-1.0 - i for i in range(len(req["continuations"]))]}
    else:
        reply = {"id": req["id"], "text": "정답은 A입니다."}
    print(json.dumps(reply, ensure_ascii=False), flush=True)
    log.write(str(req["id"]) + "\n")
    log.flush()
)");
  return "python3 " + script + " " + std::to_string(delay) + " " + log;
}

std::string task_dirs(const ScratchDir& dir) {
  return "--tasks-dir " + shell_quote(dir / "tasks") + " --datasets-dir " + shell_quote(dir / "datasets") + " ";
}

// Starts `keval ARGS` in the background; the pid is keval's own (exec).
pid_t spawn_keval(const std::string& args, const std::string& err_file) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cmd = std::string("exec ") + KEVAL_BINARY + " " + args + " >/dev/null 2>" + err_file + " </dev/null";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

size_t line_count(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

// One integer from the database, read outside keval (read-only; -1 when it cannot be read).
long long query_int(const std::string& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  long long value = -1;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(handle, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(handle, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
      value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
  }
  sqlite3_close(handle);
  return value;
}

std::string first_run_id(const std::string& db) {
  auto r = run_keval("runs --json --db " + shell_quote(db));
  if (r.exit_code != 0) return "";
  auto list = nlohmann::json::parse(r.out, nullptr, false);
  if (!list.is_array() || list.empty()) return "";
  return list.back()["id"];  // newest first: the oldest is last
}

std::string file_bytes(const std::string& path) { return slurp(path); }

// ---------------------------------------------------------------------------------------------
// Several writers and readers.

// A run waiting on a slow model holds no write lock: another run into the same database, and
// every read command, proceed meanwhile, and the test's own writes get the lock at once.
TEST(StorageConcurrency, RunsAndReadersShareOneDatabase) {
  ScratchDir dir;
  make_task(dir, 40);
  const std::string db = dir / "shared.db";
  const std::string slow = slow_model(dir, 0.1, dir / "slow.log");  // 40 x 100 ms: 4 s
  const pid_t a = spawn_keval(task_dirs(dir) + "run --backend exec --cmd " + shell_quote(slow) +
                                  " --tasks st_mc --name slow --no-progress --db " + shell_quote(db),
                              dir / "a.err");
  ASSERT_TRUE(wait_until([&] { return line_count(dir / "slow.log") >= 3; })) << slurp(dir / "a.err");

  // While run A waits on its model: a second run, the readers, and a writer of our own.
  const pid_t b = spawn_keval(task_dirs(dir) + "run --backend random --tasks st_mc --name fast --no-progress --db " +
                                  shell_quote(db),
                              dir / "b.err");
  int write_locks_had = 0;
  int readers_ok = 0;
  bool a_still_running = true;  // through the first round at least: A was waiting on its model
  for (int i = 0; i < 5; ++i) {
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(handle, 250);  // five commits' worth: a lock held across the network wait fails this
    if (sqlite3_exec(handle, "BEGIN IMMEDIATE; COMMIT;", nullptr, nullptr, nullptr) == SQLITE_OK) ++write_locks_had;
    sqlite3_close(handle);
    const std::string id = first_run_id(db);
    ASSERT_FALSE(id.empty());
    for (const std::string& command :
         {"runs --db " + shell_quote(db), "results --json --db " + shell_quote(db) + " --run " + id,
          "report --db " + shell_quote(db) + " --out " + shell_quote(dir / "site")}) {
      auto r = run_keval(task_dirs(dir) + command);
      EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
      readers_ok += r.exit_code == 0;
    }
    if (i == 0) a_still_running = line_count(dir / "slow.log") < 40;
  }
  EXPECT_EQ(wait_exit(b), 0) << slurp(dir / "b.err");
  EXPECT_EQ(wait_exit(a), 0) << slurp(dir / "a.err");
  EXPECT_TRUE(a_still_running) << "run A ended before the others were tried; slow its model down";
  EXPECT_EQ(write_locks_had, 5);
  EXPECT_EQ(readers_ok, 15);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 2);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM responses"), 80);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM scores"), 80);
  auto compare = run_keval("compare --db " + shell_quote(db) + " slow fast");
  EXPECT_EQ(compare.exit_code, 0) << compare.err;
}

// Two runs started at the same moment into a database that does not exist yet: one creates it,
// and each takes its own default name (named by start time to the second, so they collide).
TEST(StorageConcurrency, TwoRunsStartedTogetherIntoANewDatabase) {
  ScratchDir dir;
  make_task(dir, 50);
  for (int round = 0; round < 4; ++round) {
    const std::string db = dir / ("new" + std::to_string(round) + ".db");
    const std::string args = task_dirs(dir) + "run --backend random --tasks st_mc --no-progress --db " + shell_quote(db);
    const pid_t a = spawn_keval(args, dir / "a.err");
    const pid_t b = spawn_keval(args, dir / "b.err");
    EXPECT_EQ(wait_exit(a), 0) << slurp(dir / "a.err");
    EXPECT_EQ(wait_exit(b), 0) << slurp(dir / "b.err");
    EXPECT_EQ(query_int(db, "SELECT count(DISTINCT name) FROM runs WHERE status = 'complete'"), 2);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM scores"), 100);
  }
}

// A second --resume of a running run is refused, naming the process; once that process is
// killed (-9, so it never released anything itself), the run resumes and counts each sample once.
TEST(StorageRunLock, SecondResumeOfARunningRunIsRefusedAndAKilledHolderDoesNotBlock) {
  ScratchDir dir;
  make_task(dir, 60);
  const std::string db = dir / "locked.db";
  const std::string log = dir / "answered.log";
  const std::string slow = slow_model(dir, 0.05, log);
  const pid_t holder = spawn_keval(task_dirs(dir) + "run --backend exec --cmd " + shell_quote(slow) +
                                       " --tasks st_mc --no-progress --db " + shell_quote(db),
                                   dir / "holder.err");
  ASSERT_TRUE(wait_until([&] { return line_count(log) >= 3; })) << slurp(dir / "holder.err");
  const std::string id = first_run_id(db);
  ASSERT_FALSE(id.empty());

  auto second = run_keval(task_dirs(dir) + "run --no-progress --resume " + id + " --db " + shell_quote(db));
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_NE(second.err.find("being written by process " + std::to_string(holder)), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(id), std::string::npos) << second.err;
  EXPECT_LT(line_count(log), 60u) << "the holder finished before the second resume was tried";

  ASSERT_EQ(kill(holder, SIGKILL), 0);
  EXPECT_EQ(wait_exit(holder), 128 + SIGKILL);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
  auto resumed = run_keval(task_dirs(dir) + "run --no-progress --json --resume " + id + " --db " + shell_quote(db),
                           "");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM responses WHERE status = 'ok'"), 60);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM scores"), 60);
  EXPECT_EQ(query_int(db, "SELECT n FROM task_results WHERE task = 'st_mc' AND metric = 'acc'"), 60);
}

// ---------------------------------------------------------------------------------------------
// The crash window: every answer is committed within k_commit_interval (50 ms), so kill -9
// loses at most a tenth of a second of them, and --resume asks again exactly those.
TEST(StorageCrash, KillLosesAtMostATenthOfASecondOfAnswers) {
  ScratchDir dir;
  constexpr int k_samples = 400;
  constexpr double k_delay = 0.01;  // 100 answers a second: a tenth of a second is 10 answers
  make_task(dir, k_samples);
  for (int round = 0; round < 3; ++round) {
    const std::string db = dir / ("crash" + std::to_string(round) + ".db");
    const std::string log = dir / ("answered" + std::to_string(round) + ".log");
    const std::string slow = slow_model(dir, k_delay, log);
    const pid_t pid = spawn_keval(task_dirs(dir) + "run --backend exec --concurrency 1 --cmd " + shell_quote(slow) +
                                      " --tasks st_mc --no-progress --db " + shell_quote(db),
                                  dir / "crash.err");
    const size_t kill_after = 40 + 37 * static_cast<size_t>(round);  // lands at different points
    ASSERT_TRUE(wait_until([&] { return line_count(log) >= kill_after; })) << slurp(dir / "crash.err");
    std::this_thread::sleep_for(std::chrono::milliseconds(7 * round));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    wait_exit(pid);
    std::this_thread::sleep_for(50ms);  // the model sees its stdin close and stops
    const size_t answered = line_count(log);
    const long long stored = query_int(db, "SELECT count(*) FROM responses WHERE status = 'ok'");
    ASSERT_GE(stored, 0);
    ASSERT_LE(static_cast<size_t>(stored), answered);
    const size_t lost = answered - static_cast<size_t>(stored);
    std::printf("kill -9 after %zu answers: %lld stored, %zu lost\n", answered, stored, lost);
    // A tenth of a second of answers, plus the one the model wrote as the kill landed.
    EXPECT_LE(lost, 11u) << "answered " << answered << ", stored " << stored;

    const std::string id = first_run_id(db);
    ASSERT_FALSE(id.empty());
    auto resumed = run_keval(task_dirs(dir) + "run --no-progress --resume " + id + " --db " + shell_quote(db));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    // Exactly the lost answers were asked again.
    EXPECT_EQ(line_count(log), static_cast<size_t>(k_samples) + lost);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM responses WHERE status = 'ok'"), k_samples);
  }
}

// ---------------------------------------------------------------------------------------------
// Damaged, foreign, future and older files.

class StorageFiles : public ::testing::Test {
protected:
  void SetUp() override {
    make_task(m_dir, 30);
    for (const char* name : {"one", "two"}) {
      auto r = run_keval(task_dirs(m_dir) + "run --backend random --tasks st_mc --no-progress --name " + name +
                         " --db " + shell_quote(db()));
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  std::string db() const { return m_dir / "keval.db"; }

  // Every command that reads the database, then `run` (resume and a new run) that writes it.
  std::vector<std::string> read_commands(const std::string& path) const {
    const std::string d = " --db " + shell_quote(path);
    return {"runs" + d, "results" + d, "results --json" + d + " --run one", "compare" + d + " one two",
            "gate" + d + " --baseline one --candidate two", "report" + d + " --out " + shell_quote(m_dir / "site")};
  }
  std::vector<std::string> write_commands(const std::string& path) const {
    const std::string d = " --db " + shell_quote(path);
    return {"run --no-progress --resume one" + d, "run --backend random --tasks st_mc --no-progress" + d};
  }

  // Each command exits 2 with a message holding `expected` and the file's path, and the file is
  // left byte for byte as it was.
  void expect_refused(const std::vector<std::string>& commands, const std::string& path, const std::string& expected) {
    const std::string before = file_bytes(path);
    for (const auto& command : commands) {
      auto r = run_keval(task_dirs(m_dir) + command);
      EXPECT_EQ(r.exit_code, 2) << command << "\n" << r.err;
      EXPECT_NE(r.err.find(expected), std::string::npos) << command << "\n" << r.err;
      EXPECT_NE(r.err.find(path), std::string::npos) << command << "\n" << r.err;
      EXPECT_EQ(r.err.find("internal error"), std::string::npos) << command << "\n" << r.err;
      EXPECT_TRUE(file_bytes(path) == before) << command << " changed " << path;
    }
  }

  ScratchDir m_dir;
};

TEST_F(StorageFiles, TruncatedDatabaseIsRefused) {
  const std::string bytes = file_bytes(db());
  ASSERT_GT(bytes.size(), 8192u);
  for (size_t keep : {bytes.size() / 2, size_t{4096}, size_t{100}}) {
    const std::string cut = m_dir / ("cut" + std::to_string(keep) + ".db");
    write_file(cut, bytes.substr(0, keep));
    auto commands = read_commands(cut);
    for (auto& c : write_commands(cut)) commands.push_back(c);
    expect_refused(commands, cut, "damaged");
  }
}

TEST_F(StorageFiles, DamagedPageIsFoundBeforeARunWritesIntoIt) {
  std::string bytes = file_bytes(db());
  // Overwrite the middle of the file (b-tree pages of the responses) with Hangul text.
  const std::string garbage = "손상된 페이지입니다. ";
  for (size_t at = bytes.size() / 3; at < bytes.size() / 3 + 4096; at += garbage.size())
    bytes.replace(at, std::min(garbage.size(), bytes.size() - at), garbage.substr(0, std::min(garbage.size(), bytes.size() - at)));
  const std::string damaged = m_dir / "damaged.db";
  write_file(damaged, bytes);
  expect_refused(write_commands(damaged), damaged, "damaged");
  // Readers fail with exit 2 when they meet the page, or succeed if they never read it.
  for (const auto& command : read_commands(damaged)) {
    auto r = run_keval(task_dirs(m_dir) + command);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 2) << command << "\n" << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << command << "\n" << r.err;
  }
}

TEST_F(StorageFiles, ForeignFilesAreRefusedAndLeftAlone) {
  const std::string text = m_dir / "notes.db";
  write_file(text, "이것은 데이터베이스가 아닙니다.\n");
  auto all = read_commands(text);
  for (auto& c : write_commands(text)) all.push_back(c);
  expect_refused(all, text, "not a keval database");

  const std::string other = m_dir / "other.db";
  {
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open(other.c_str(), &handle), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(handle, "CREATE TABLE 고객(이름 TEXT); INSERT INTO 고객 VALUES ('김철수');", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(handle);
  }
  all = read_commands(other);
  for (auto& c : write_commands(other)) all.push_back(c);
  expect_refused(all, other, "not a keval database");
}

TEST_F(StorageFiles, FutureSchemaIsRefused) {
  {
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open(db().c_str(), &handle), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(handle, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(handle);
  }
  auto all = read_commands(db());
  for (auto& c : write_commands(db())) all.push_back(c);
  expect_refused(all, db(), "newer than this keval reads");
}

// A database from before the judge (schema 1) is read as it is by every reader, and upgraded
// only by `run`, which says so first.
TEST_F(StorageFiles, OlderSchemaIsReadAsItIsAndUpgradedOnlyByRun) {
  {
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open(db().c_str(), &handle), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(handle,
                           "DROP TABLE judgements; ALTER TABLE task_results DROP COLUMN n_judge_failed; "
                           "ALTER TABLE responses DROP COLUMN latency_seconds; ALTER TABLE responses DROP COLUMN prompt_tokens; "
                           "ALTER TABLE responses DROP COLUMN completion_tokens; ALTER TABLE responses DROP COLUMN prompt_characters; "
                           "ALTER TABLE responses DROP COLUMN prompt_has_hangul; ALTER TABLE responses DROP COLUMN cached_from_run; "
                           "ALTER TABLE cache DROP COLUMN run_id; "
                           "UPDATE meta SET value = '1' WHERE key = 'schema_version';",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(handle);
  }
  const std::string before = file_bytes(db());
  for (const auto& command : read_commands(db())) {
    auto r = run_keval(task_dirs(m_dir) + command);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
    EXPECT_EQ(r.err.find("upgrading"), std::string::npos) << command;
  }
  auto results = run_keval("results --json --run one --db " + shell_quote(db()));
  ASSERT_EQ(results.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(results.out)["tasks"][0]["n"], 30);
  EXPECT_TRUE(file_bytes(db()) == before) << "a reader changed the file";
  EXPECT_FALSE(fs::exists(db() + "-wal") && fs::file_size(db() + "-wal") > 0);

  auto resumed = run_keval(task_dirs(m_dir) + "run --no-progress --resume one --db " + shell_quote(db()));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("upgrading " + db() + " from schema version 1 to 3"), std::string::npos) << resumed.err;
  EXPECT_EQ(query_int(db(), "SELECT value FROM meta WHERE key = 'schema_version'"), 3);
}

// ---------------------------------------------------------------------------------------------
// Read-only files and media.

// Mounts `dir` read-only over itself (root) for the scope; not mounted when that is not allowed.
class ReadOnlyMount {
public:
  explicit ReadOnlyMount(const std::string& dir) : m_dir(dir) {
    if (geteuid() != 0) return;
    if (mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) return;
    if (mount(nullptr, dir.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      umount(dir.c_str());
      return;
    }
    m_mounted = true;
  }
  ~ReadOnlyMount() {
    if (m_mounted) umount2(m_dir.c_str(), MNT_DETACH);
  }
  bool mounted() const { return m_mounted; }

private:
  std::string m_dir;
  bool m_mounted = false;
};

// The same process as a user who is not root, so that file modes apply ("" when not root).
std::string as_ordinary_user() { return geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : ""; }

TEST_F(StorageFiles, ReadOnlyMediaAreReadAndNeverWritten) {
  const std::string media = m_dir / "media";
  fs::create_directories(media);
  const std::string copy = media + "/keval.db";
  fs::copy_file(db(), copy);
  ASSERT_FALSE(fs::exists(db() + "-wal")) << "the runs closed the database cleanly";
  ReadOnlyMount mounted(media);
  std::string user;  // without a mount: a read-only directory, for a user its mode binds
  if (!mounted.mounted()) {
    fs::permissions(m_dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_all);  // the report is written here
    fs::permissions(copy, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    fs::permissions(media, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                               fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
    user = as_ordinary_user();
  }
  const std::string before = file_bytes(copy);
  for (const auto& command : read_commands(copy)) {
    auto r = run_keval(task_dirs(m_dir) + command, user);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
  }
  EXPECT_FALSE(fs::exists(copy + "-wal") || fs::exists(copy + "-shm"));
  EXPECT_TRUE(file_bytes(copy) == before);
  for (const auto& command : write_commands(copy)) {
    auto r = run_keval(task_dirs(m_dir) + command, user);
    EXPECT_EQ(r.exit_code, 2) << command << "\n" << r.err;
    EXPECT_NE(r.err.find(copy + " is read-only"), std::string::npos) << command << "\n" << r.err;
  }
  EXPECT_TRUE(file_bytes(copy) == before);
  if (!mounted.mounted()) fs::permissions(media, fs::perms::owner_all);
}

// chmod 0444 in a writable directory, as a user the mode binds.
TEST_F(StorageFiles, ReadOnlyFileIsReadAndNeverWritten) {
  fs::permissions(m_dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_all);  // the ordinary user may create -shm here
  fs::permissions(db(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const std::string before = file_bytes(db());
  const std::string user = as_ordinary_user();
  // The report goes where that user may write.
  for (const auto& command : read_commands(db())) {
    auto r = run_keval(task_dirs(m_dir) + command, user);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
  }
  for (const auto& command : write_commands(db())) {
    auto r = run_keval(task_dirs(m_dir) + command, user);
    EXPECT_EQ(r.exit_code, 2) << command << "\n" << r.err;
    EXPECT_NE(r.err.find(db() + " is read-only"), std::string::npos) << command << "\n" << r.err;
  }
  EXPECT_TRUE(file_bytes(db()) == before);
}

// A writer killed mid-run leaves committed rows in FILE-wal. On read-only media the readers see
// them while FILE-shm is there too; without it SQLite cannot read the log, and keval says so.
TEST(StorageReadOnly, KilledWritersLogOnReadOnlyMedia) {
  if (geteuid() != 0) GTEST_SKIP() << "a read-only bind mount needs root";
  ScratchDir dir;
  make_task(dir, 200);
  const std::string media = dir / "media";
  fs::create_directories(media);
  const std::string db = media + "/keval.db";
  const std::string log = dir / "answered.log";
  const pid_t pid = spawn_keval(task_dirs(dir) + "run --backend exec --cmd " + shell_quote(slow_model(dir, 0.01, log)) +
                                    " --tasks st_mc --no-progress --db " + shell_quote(db),
                                dir / "run.err");
  ASSERT_TRUE(wait_until([&] { return line_count(log) >= 30; })) << slurp(dir / "run.err");
  kill(pid, SIGKILL);
  wait_exit(pid);
  ASSERT_TRUE(fs::exists(db + "-wal") && fs::file_size(db + "-wal") > 0);
  {
    ReadOnlyMount mounted(media);
    if (!mounted.mounted()) GTEST_SKIP() << "a read-only bind mount is not allowed here";
    auto r = run_keval("runs --json --db " + shell_quote(db));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)[0]["status"], "running");
  }
  fs::remove(db + "-shm");
  {
    ReadOnlyMount mounted(media);
    ASSERT_TRUE(mounted.mounted());  // it was a moment ago
    auto r = run_keval("runs --json --db " + shell_quote(db));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("its write-ahead log " + db + "-wal holds changes"), std::string::npos) << r.err;
  }
  // Where it is writable, the same reader recovers the log and sees the committed rows.
  auto r = run_keval("runs --json --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(query_int(db, "SELECT count(*) FROM responses"), 20);
}

// ---------------------------------------------------------------------------------------------
// A full disk (a tmpfs of 384 KiB, mounted when root may): exit 2 naming the file, and the
// database keeps whole transactions only, so the run resumes elsewhere to the full count.
TEST(StorageDiskFull, FullDiskExitsTwoAndKeepsWholeTransactions) {
  ScratchDir dir;
  make_task(dir, 3000);
  const std::string disk = dir / "disk";
  fs::create_directories(disk);
  if (geteuid() != 0 || mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=384k") != 0)
    GTEST_SKIP() << "mounting a small tmpfs needs root";
  const std::string db = disk + "/keval.db";
  auto r = run_keval(task_dirs(dir) + "run --backend random --tasks st_mc --no-progress --db " + shell_quote(db));
  const std::string copy = dir / "moved.db";
  if (fs::exists(db)) fs::copy_file(db, copy);
  if (fs::exists(db + "-wal")) fs::copy_file(db + "-wal", copy + "-wal");
  umount2(disk.c_str(), MNT_DETACH);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(db + ": the disk is full"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;

  // Moved to a disk with room, it is whole and the run resumes to every sample, once each.
  ASSERT_TRUE(fs::exists(copy));
  const std::string id = first_run_id(copy);
  ASSERT_FALSE(id.empty());
  auto resumed = run_keval(task_dirs(dir) + "run --no-progress --resume " + id + " --db " + shell_quote(copy));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(query_int(copy, "SELECT count(*) FROM responses WHERE status = 'ok'"), 3000);
  EXPECT_EQ(query_int(copy, "SELECT n FROM task_results WHERE metric = 'acc'"), 3000);
}

} // namespace
} // namespace keval
