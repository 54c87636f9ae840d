#pragma once
// The one SQLite file (WAL) that holds everything keval knows: runs and their configuration,
// every request and raw response, every sample's score, task results, and the response cache.
// Storage knows nothing of scorers: scores are stored as JSON the scorers define.
#include <functional>
#include <map>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.h"

struct sqlite3;
struct sqlite3_stmt;

namespace keval {

struct RunRecord {
  std::string id;             // content-derived, 12 hex digits
  std::string name;           // unique in a database
  std::string model;
  std::string backend;
  nlohmann::json config;      // the full configuration (never holds secrets)
  std::string config_hash;    // sha256 of the canonical configuration
  std::string keval_version;
  nlohmann::json task_versions = nlohmann::json::object(); // task -> {"version": N, "hash": "…"}
  std::string status;         // running | complete | failed | aborted
  std::string created_at;     // ISO 8601 UTC
  std::string updated_at;
  std::string finished_at;
};

// One stored response (one turn of one sample).
struct StoredResponse {
  std::string task;
  std::string sample_id;
  int turn = 0;
  Response response;
};

// One sample's score, as the scorer serialised it.
struct StoredScore {
  std::string task;
  std::string sample_id;
  std::string status;         // scored | unparsed | failed
  std::string extracted;      // the answer extracted from the response, for display
  nlohmann::json score;       // the scorer's per-sample record
};

// One attempt of the judge at one turn of one sample.
struct StoredJudgement {
  std::string task;
  std::string sample_id;
  int turn = 0;
  int attempt = 0;               // 0, 1, … (an unreadable verdict is asked again)
  std::string status;            // ok | unparsed | failed
  Response response;             // the judge's raw verdict, or its failure
  std::optional<double> rating;  // read from the verdict (status ok)
};

// One (task or group, metric) result of a run.
struct TaskResult {
  std::string task;
  std::string metric;
  std::optional<double> value;   // empty when undefined (e.g. no scored sample)
  std::optional<double> stderr_value;
  std::optional<double> ci_low;
  std::optional<double> ci_high;
  long long n = 0;               // samples scored
  long long n_failed = 0;
  long long n_unparsed = 0;
  long long n_judge_failed = 0;  // samples whose judge verdict could not be had (not scored)
  bool is_group = false;
  std::string aggregation;       // for groups: macro | micro
};

class Store {
public:
  // Opens (creating when `create` is true and the file does not exist) a keval database.
  // Throws InputError naming the path when the file is not a SQLite database, or is one that
  // keval did not create, or has a newer schema.
  Store(const std::string& path, bool create);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return m_path; }

  // Runs.
  void create_run(const RunRecord& run);
  // By id, then by name; nullopt when neither matches.
  std::optional<RunRecord> find_run(const std::string& id_or_name);
  std::vector<RunRecord> list_runs();          // newest first
  std::optional<RunRecord> latest_run();
  void set_run_status(const std::string& run_id, const std::string& status);

  // Batched writes: everything between begin() and commit() is one transaction.
  void begin();
  void commit();
  void rollback();

  // Insert-or-replace one turn's request and response.
  void put_response(const std::string& run_id, const std::string& task, const std::string& sample_id,
                    int turn, const nlohmann::json& request, const Response& response);
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
  std::optional<Response> cache_get(const std::string& key);
  void cache_put(const std::string& key, const Response& response);

  // Merging shards (`keval merge`).
  void update_run_config(const std::string& run_id, const nlohmann::json& config);
  // Copies every response, score and judge verdict of run `from_run` in the keval database at
  // `source_path` into run `to_run` of this one (replacing rows of the same sample and turn), in
  // one transaction. Columns are matched by name, so both files must be of this schema.
  void import_run_rows(const std::string& source_path, const std::string& from_run, const std::string& to_run);
  // Stored scores of a run: task -> status -> count.
  std::map<std::string, std::map<std::string, long long>> count_scores(const std::string& run_id);

private:
  void exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  void migrate(bool fresh);
  void upgrade();

  std::string m_path;
  sqlite3* m_db = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> m_statements;
};

// Batched writes for a long stream of them: inside an open transaction, `wrote()` after each
// write commits every `every` writes and at least twice a second, so a process killed mid-stream
// loses little of what it paid for.
class CommitPacer {
public:
  CommitPacer(Store& store, size_t every) : m_store(store), m_every(every), m_last(std::chrono::steady_clock::now()) {}
  void wrote();

private:
  Store& m_store;
  size_t m_every;
  size_t m_uncommitted = 0;
  std::chrono::steady_clock::time_point m_last;
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

} // namespace keval
