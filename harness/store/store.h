#pragma once
// The one SQLite file (WAL) that holds everything keval knows: runs and their configuration,
// every request and raw response, every sample's score, task results, and the response cache.
// Storage knows nothing of scorers: scores are stored as JSON the scorers define.
#include <functional>
#include <map>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "records.h"
#include "request.h"
#include "status.h"
#include "usage.h"

struct sqlite3;
struct sqlite3_stmt;

namespace keval {

// How a command uses the database. Only writers upgrade an older schema or check the whole
// file's integrity; readers change nothing, so they work on read-only files and media.
enum class StoreAccess {
  read_only,   // runs, results, compare, gate, report
  read_write,  // an existing database (run --resume, pairwise)
  create,      // created when absent (run)
};

// Every failure of the file or its environment (not SQLite, damaged, disk full, read-only,
// locked too long) is an InputError naming the file (exit 2); a bug stays a runtime_error.
// Every public member may be called from two threads (the CommitPacer writes from its own).
class Store {
public:
  // Opens a keval database. Throws InputError naming the path when the file is missing (unless
  // created), not a SQLite database, one that keval did not create, damaged, or has a newer
  // schema; a writer says on stderr when it upgrades an older one.
  Store(const std::string& path, StoreAccess access);
  Store(const std::string& path, bool create) : Store(path, create ? StoreAccess::create : StoreAccess::read_write) {}
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return m_path; }
  // Milliseconds a write waits for another process's write to end before failing.
  static constexpr int k_busy_timeout_ms = 30000;

  // Runs.
  void create_run(const RunRecord& run);  // InputError when the name is taken
  // False, storing nothing, when another run has the name (checked and stored as one step, so
  // two processes cannot both take it).
  bool try_create_run(const RunRecord& run);
  // By id, then by name; nullopt when neither matches.
  std::optional<RunRecord> find_run(const std::string& id_or_name);
  std::vector<RunRecord> list_runs();          // newest first
  std::optional<RunRecord> latest_run();
  void set_run_status(const std::string& run_id, const std::string& status);
  void set_run_status(const std::string& run_id, RunStatus status) { set_run_status(run_id, std::string(to_string(status))); }

  // Batched writes: everything between begin() and commit() is one transaction.
  void begin();
  void commit();
  void rollback();
  // `body` in one transaction that no other thread's call joins: committed, or rolled back
  // when it throws.
  void transaction(const std::function<void()>& body);

  // Insert-or-replace one turn's request and response.
  void put_response(const std::string& run_id, const std::string& task, const std::string& sample_id,
                    int turn, const nlohmann::json& request, const Response& response);
  // The same with the request as JSON text already (a body as sent): stored as it is.
  void put_response_text(const std::string& run_id, const std::string& task, const std::string& sample_id,
                         int turn, const std::string& request_text, const Response& response);
  void put_score(const std::string& run_id, const StoredScore& score);
  void put_task_results(const std::string& run_id, const std::vector<TaskResult>& results); // replaces the run's results

  // Reads.
  // The run's successful responses, keyed by "<task>/<sample_id>/<turn>".
  std::unordered_map<std::string, Response> load_ok_responses(const std::string& run_id);
  std::vector<StoredResponse> load_responses(const std::string& run_id, const std::string& task);
  std::vector<StoredScore> load_scores(const std::string& run_id, const std::string& task);
  // The same, one score at a time, for callers that keep less than the whole task.
  void for_each_score(const std::string& run_id, const std::string& task,
                      const std::function<void(StoredScore&&)>& on_score);
  std::vector<StoredScore> load_all_scores(const std::string& run_id);
  std::vector<TaskResult> load_task_results(const std::string& run_id);
  std::optional<nlohmann::json> load_request(const std::string& run_id, const std::string& task,
                                             const std::string& sample_id, int turn);

  // Judge verdicts, every attempt.
  void put_judgement(const std::string& run_id, const StoredJudgement& judgement, const nlohmann::json& request);
  std::vector<StoredJudgement> load_judgements(const std::string& run_id, const std::string& task);

  // Response cache (content-addressed: the key is a hash of backend kind, model and payload).
  // A hit comes back with from_cache set and cached_from_run naming the run that stored it
  // (empty: unknown, an entry from before schema 3); `run_id` is the run storing the answer.
  std::optional<Response> cache_get(const std::string& key);
  void cache_put(const std::string& key, const Response& response, const std::string& run_id = "");

  // The run's requests, tokens, latency and cached answers, from its stored responses.
  RunUsage run_usage(const std::string& run_id);

  // Merging shards (`keval merge`).
  void update_run_config(const std::string& run_id, const nlohmann::json& config);
  // Copies every response, score and judge verdict of run `from_run` in the keval database at
  // `source_path` into run `to_run` of this one (replacing rows of the same sample and turn), in
  // one transaction. Columns are matched by name, so both files must be of this schema.
  void import_run_rows(const std::string& source_path, const std::string& from_run, const std::string& to_run);
  // Stored scores of a run: task -> status -> count.
  std::map<std::string, std::map<std::string, long long>> count_scores(const std::string& run_id);

private:
  using Guard = std::lock_guard<std::recursive_mutex>;
  void open_read_only();
  void open_for_writing(StoreAccess access);
  void open_for_writing_retrying(StoreAccess access);
  void check_integrity();
  void exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  void migrate(bool fresh);
  void upgrade();
  void read_older_schema(long long version);

  std::string m_path;
  sqlite3* m_db = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> m_statements;
  std::recursive_mutex m_mutex;  // one thread at a time on the connection and its statements
};

// How long an answered request may wait in memory before it is committed: a process killed at
// any moment loses at most this much answered work (plus one commit's time).
inline constexpr std::chrono::milliseconds k_commit_interval{50};

// The writes of a long stream (responses, scores, verdicts, cache entries), batched: each is
// queued in memory and committed in a short transaction of up to `every` writes, and at the
// latest `interval` after it was queued (a timer thread commits what waits). So the write lock
// is held only while rows are written, never while a backend waits on the network, and a
// process killed mid-stream loses at most `interval` of answers. The caller flush()es before
// reading what it wrote; writes still queued when the pacer is destroyed are dropped.
class CommitPacer {
public:
  CommitPacer(Store& store, size_t every, std::chrono::milliseconds interval = k_commit_interval);
  ~CommitPacer();
  CommitPacer(const CommitPacer&) = delete;
  CommitPacer& operator=(const CommitPacer&) = delete;

  void put_response(const std::string& run_id, const std::string& task, const std::string& sample_id, int turn,
                    nlohmann::json request, Response response);
  void put_response_text(const std::string& run_id, const std::string& task, const std::string& sample_id, int turn,
                         std::string request_text, Response response);
  void put_score(const std::string& run_id, StoredScore score);
  void put_judgement(const std::string& run_id, StoredJudgement judgement, nlohmann::json request);
  void cache_put(const std::string& key, Response response, std::string run_id = "");
  // Commits everything queued. Rethrows a failure of the timer thread's last commit.
  void flush();

private:
  using Write = std::function<void(Store&)>;
  void queue(Write write);
  void commit_taken(std::vector<Write>& writes);
  void timer_loop();

  Store& m_store;
  const size_t m_every;
  const std::chrono::milliseconds m_interval;
  std::mutex m_queue_mutex;   // guards everything below
  std::mutex m_commit_mutex;  // one commit at a time, so writes land in the order they were queued
  std::condition_variable m_wake;
  std::vector<Write> m_queued;
  std::chrono::steady_clock::time_point m_oldest;  // when the first queued write came
  std::exception_ptr m_failure;  // the timer thread's commit failed: the next call rethrows it
  bool m_stopping = false;
  std::thread m_timer;
};

std::string utc_now_iso8601();

// ---- Bulk reads for reports ----

// One stored row as its raw column text, for readers that pass most of it through unparsed
// (the static site reads every answer of every run). The views live until the callback returns.
struct RawScoreRow {
  std::string_view sample_id;
  std::string_view status;      // scored | unparsed | failed
  std::string_view extracted;
  std::string_view score_json;  // the scorer's record, as stored
};
struct RawResponseRow {
  std::string_view sample_id;
  int turn = 0;
  std::string_view status;                       // ok | failed
  std::string_view text;
  std::optional<std::string_view> logprobs_json; // log-prob requests only
  std::string_view failure_kind;
  std::string_view failure_message;
  std::string_view request_json;                 // what was sent, as stored
};

// A read-only connection of its own (one per thread: a StoreReader is never shared), for bulk
// reads in stored order. Open it on a file a Store has already opened (and so checked).
class StoreReader {
public:
  explicit StoreReader(const std::string& path);
  ~StoreReader();
  StoreReader(const StoreReader&) = delete;
  StoreReader& operator=(const StoreReader&) = delete;

  // A run's scores of one task, in the order they were stored (the dataset's order).
  void for_each_raw_score(const std::string& run_id, const std::string& task,
                          const std::function<void(const RawScoreRow&)>& on_row);
  // A run's responses of one task, with their requests (request_json empty unless `with_requests`).
  void for_each_raw_response(const std::string& run_id, const std::string& task, bool with_requests,
                             const std::function<void(const RawResponseRow&)>& on_row);

private:
  std::string m_path;
  sqlite3* m_db = nullptr;
  sqlite3_stmt* m_scores = nullptr;
  sqlite3_stmt* m_responses = nullptr;
  sqlite3_stmt* m_responses_with_requests = nullptr;
};
// A read-only connection to an existing database as Store opens one for reading (immutable on
// read-only media), for readers that run their own bulk queries. Close it with sqlite3_close.
sqlite3* open_read_only_connection(const std::string& path);
// Throws what a failed SQLite call on `db` means for `path`: InputError when the file or its
// environment is at fault (damaged, full, read-only, locked), runtime_error otherwise.
[[noreturn]] void throw_sqlite_error(sqlite3* db, const std::string& path, std::string_view what);

} // namespace keval
