#include "store.h"

#include <sqlite3.h>

#include <thread>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <utility>

#include <unistd.h>

#include <fmt/format.h>

#include "usage.h"
#include "sample_key.h"
#include "error.h"

namespace keval {
namespace {

constexpr int k_application_id = 0x6B45564C; // "kEVL": marks the file as keval's
constexpr long long k_schema_version = 3;

// Schema 2 added the judge's verdicts (every attempt kept) and the count of judge failures.
#define KEVAL_JUDGEMENTS_TABLE                                                                   \
  "CREATE TABLE judgements("                                                                    \
  "  run_id TEXT NOT NULL REFERENCES runs(id),"                                                 \
  "  task TEXT NOT NULL,"                                                                       \
  "  sample_id TEXT NOT NULL,"                                                                  \
  "  turn INTEGER NOT NULL,"                                                                    \
  "  attempt INTEGER NOT NULL,"                                                                 \
  "  request_json TEXT NOT NULL,"                                                               \
  "  status TEXT NOT NULL,"                                                                     \
  "  text TEXT,"                                                                                \
  "  rating REAL,"                                                                              \
  "  failure_kind TEXT,"                                                                        \
  "  failure_message TEXT,"                                                                     \
  "  from_cache INTEGER NOT NULL DEFAULT 0,"                                                    \
  "  created_at TEXT NOT NULL,"                                                                 \
  "  latency_seconds REAL,"                                                                     \
  "  prompt_tokens INTEGER,"                                                                    \
  "  completion_tokens INTEGER,"                                                                \
  "  PRIMARY KEY(run_id, task, sample_id, turn, attempt));"

// Schema 3 added each response's usage and latency, what its prompt holds (for tokens per Korean
// character), the run a cached answer came from, and the run that stored each cache entry.
constexpr const char* k_schema_3_additions[] = {
    "ALTER TABLE responses ADD COLUMN latency_seconds REAL",
    "ALTER TABLE responses ADD COLUMN prompt_tokens INTEGER",
    "ALTER TABLE responses ADD COLUMN completion_tokens INTEGER",
    "ALTER TABLE responses ADD COLUMN prompt_characters INTEGER",
    "ALTER TABLE responses ADD COLUMN prompt_has_hangul INTEGER",
    "ALTER TABLE responses ADD COLUMN cached_from_run TEXT",
    "ALTER TABLE cache ADD COLUMN run_id TEXT",
};
// The judge's verdicts gained the same usage (a file older than schema 2 gets the whole table).
constexpr const char* k_schema_3_judgement_additions[] = {
    "ALTER TABLE judgements ADD COLUMN latency_seconds REAL",
    "ALTER TABLE judgements ADD COLUMN prompt_tokens INTEGER",
    "ALTER TABLE judgements ADD COLUMN completion_tokens INTEGER",
};

// Tables with large text rows (requests, responses, cached replies) keep their rowid: WITHOUT
// ROWID only pays for small rows. task_results keeps it too, so rows read back in the order
// they were written (the caller's display order).
constexpr const char* k_schema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE runs(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  model TEXT,
  backend TEXT NOT NULL,
  config_json TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  keval_version TEXT NOT NULL,
  task_versions_json TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT,
  finished_at TEXT);
CREATE TABLE responses(
  run_id TEXT NOT NULL REFERENCES runs(id),
  task TEXT NOT NULL,
  sample_id TEXT NOT NULL,
  turn INTEGER NOT NULL,
  request_json TEXT NOT NULL,
  status TEXT NOT NULL,
  text TEXT,
  logprobs_json TEXT,
  failure_kind TEXT,
  failure_message TEXT,
  http_status INTEGER,
  from_cache INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  latency_seconds REAL,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  prompt_characters INTEGER,
  prompt_has_hangul INTEGER,
  cached_from_run TEXT,
  PRIMARY KEY(run_id, task, sample_id, turn));
CREATE TABLE scores(
  run_id TEXT NOT NULL REFERENCES runs(id),
  task TEXT NOT NULL,
  sample_id TEXT NOT NULL,
  status TEXT NOT NULL,
  extracted TEXT,
  score_json TEXT,
  PRIMARY KEY(run_id, task, sample_id));
CREATE TABLE task_results(
  run_id TEXT NOT NULL REFERENCES runs(id),
  task TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  stderr REAL,
  ci_low REAL,
  ci_high REAL,
  n INTEGER NOT NULL,
  n_failed INTEGER NOT NULL,
  n_unparsed INTEGER NOT NULL,
  is_group INTEGER NOT NULL,
  aggregation TEXT,
  n_judge_failed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(run_id, task, metric));
CREATE TABLE cache(key TEXT PRIMARY KEY, response_json TEXT NOT NULL, created_at TEXT NOT NULL, run_id TEXT);
)sql" KEVAL_JUDGEMENTS_TABLE;

// A failure of the file or its environment is the user's to fix (InputError, exit 2); anything
// else (a statement keval got wrong) is a bug.
[[noreturn]] void throw_sqlite_code(int code, const std::string& detail, const std::string& path, std::string_view sql) {
  switch (code & 0xff) {
  case SQLITE_FULL:
    throw InputError(fmt::format("{}: the disk is full ({}); the write that failed was not kept", path, detail));
  case SQLITE_IOERR:
    throw InputError(fmt::format("{}: input/output error ({}); the write that failed was not kept", path, detail));
  case SQLITE_READONLY:
    throw InputError(fmt::format("{} is read-only ({}); this command writes into it (and beside it: -wal, -shm)",
                                 path, detail));
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    throw InputError(fmt::format("{} is damaged ({}); restore it from a copy", path, detail));
  case SQLITE_CANTOPEN:
  case SQLITE_PERM:
  case SQLITE_AUTH:
    throw InputError(fmt::format("cannot open {} ({})", path, detail));
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    throw InputError(fmt::format("{} stayed locked by another process for {} s ({})", path,
                                 Store::k_busy_timeout_ms / 1000, detail));
  case SQLITE_TOOBIG:
    throw InputError(fmt::format("{}: a value is too large for SQLite ({})", path, detail));
  default:
    throw std::runtime_error(fmt::format("{}: SQLite error: {} (in: {})", path, detail, sql));
  }
}

[[noreturn]] void throw_sqlite(sqlite3* db, const std::string& path, std::string_view sql) {
  throw_sqlite_code(sqlite3_extended_errcode(db), sqlite3_errmsg(db), path, sql);
}

// Storage must never fail over a stray byte in a model's output, so invalid UTF-8 is replaced.
std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json parse_json(std::string_view text, const std::string& path, const char* what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{} is damaged: corrupt JSON in {}: {}", path, what, e.what()));
  }
}

// JSON has no infinities, and a log-likelihood may well be -inf: those travel as strings.
nlohmann::json logprobs_to_json(const std::vector<double>& logprobs) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : logprobs) {
    if (std::isfinite(v)) out.push_back(v);
    else if (std::isnan(v)) out.push_back("nan");
    else out.push_back(v < 0 ? "-inf" : "inf");
  }
  return out;
}

std::vector<double> logprobs_from_json(const nlohmann::json& j, const std::string& path) {
  std::vector<double> out;
  if (!j.is_array()) throw InputError(path + " is damaged: corrupt logprobs (not an array)");
  for (const auto& v : j) {
    if (v.is_number()) out.push_back(v.get<double>());
    else if (v == "-inf") out.push_back(-std::numeric_limits<double>::infinity());
    else if (v == "inf") out.push_back(std::numeric_limits<double>::infinity());
    else if (v == "nan") out.push_back(std::numeric_limits<double>::quiet_NaN());
    else throw InputError(path + " is damaged: corrupt logprobs value " + v.dump());
  }
  return out;
}

// Every kind, so that the stored string is whatever to_string() says and the two can't drift.
constexpr FailureKind k_failure_kinds[] = {
    FailureKind::none,        FailureKind::missing,   FailureKind::transport, FailureKind::timeout,
    FailureKind::http_status, FailureKind::malformed, FailureKind::backend,   FailureKind::aborted,
    FailureKind::too_large,   FailureKind::context_exceeded,
};

FailureKind parse_failure_kind(std::string_view s) {
  for (FailureKind k : k_failure_kinds) {
    if (s == to_string(k)) return k;
  }
  // A kind written by a newer keval: still a failure, and the message is kept.
  return FailureKind::backend;
}

// Statuses that end a run. "incomplete" (finished with failed samples, see ARCHITECTURE.md)
// ended too, so it gets a finish time like the others. A status keval does not know never does.
bool is_terminal_status(std::string_view status) {
  const std::optional<RunStatus> s = parse_run_status(status);
  return s && is_terminal(*s);
}

// One use of a cached statement: binds in order, steps, reads, and resets on scope exit so a
// half-read statement never keeps a read transaction open.
class Query {
public:
  Query(sqlite3_stmt* stmt, const std::string& path) : m_stmt(stmt), m_path(path) {}
  ~Query() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& text(std::string_view v) {
    return check(sqlite3_bind_text(m_stmt, ++m_index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Query& text_or_null(std::string_view v) { return v.empty() ? null() : text(v); }
  Query& integer(long long v) { return check(sqlite3_bind_int64(m_stmt, ++m_index, v)); }
  Query& integer_or_null(long long v) { return v == 0 ? null() : integer(v); }
  Query& integer_or_null(const std::optional<long long>& v) { return v ? integer(*v) : null(); }
  Query& real_or_null(const std::optional<double>& v) {
    return v ? check(sqlite3_bind_double(m_stmt, ++m_index, *v)) : null();
  }
  Query& null() { return check(sqlite3_bind_null(m_stmt, ++m_index)); }

  int step_code() { return sqlite3_step(m_stmt); }
  // True while there is a row to read.
  bool step() {
    const int rc = step_code();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail();
  }
  void run() {
    while (step()) {
    }
  }

  bool is_null(int col) const { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }
  std::string text_at(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(m_stmt, col))) : std::string();
  }
  long long integer_at(int col) const { return sqlite3_column_int64(m_stmt, col); }
  std::optional<long long> optional_integer_at(int col) const {
    if (is_null(col)) return std::nullopt;
    return integer_at(col);
  }
  std::optional<double> real_at(int col) const {
    if (is_null(col)) return std::nullopt;
    return sqlite3_column_double(m_stmt, col);
  }

  [[noreturn]] void fail() const { throw_sqlite(sqlite3_db_handle(m_stmt), m_path, sqlite3_sql(m_stmt)); }

private:
  Query& check(int rc) {
    if (rc != SQLITE_OK) fail();
    return *this;
  }

  sqlite3_stmt* m_stmt;
  const std::string& m_path;
  int m_index = 0;
};

// A read-only connection could not read the file: a hot journal or a WAL index to rebuild needs
// write access, or the -shm file cannot be created beside a read-only file.
struct NeedsRecovery {};

// What an existing file holds, read without writing anything.
struct Inspection {
  long long application_id = 0;
  long long schema_objects = 0; // tables, indexes, views, triggers
  std::optional<long long> schema_version;
};

Inspection inspect(sqlite3* db, const std::string& path) {
  const auto query = [&](const char* sql, auto&& on_row) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, &sqlite3_finalize);
    // A file that is not SQLite opens fine; the first read is what says so.
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
      rc = sqlite3_step(stmt.get());
      if (rc == SQLITE_ROW) on_row(stmt.get());
    }
    if (rc == SQLITE_DONE) return;
    if (rc == SQLITE_NOTADB) throw InputError(path + " is not a keval database (not SQLite)");
    if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN) throw NeedsRecovery();
    throw_sqlite(db, path, sql);
  };
  // One read transaction for all of it: a writer creating the schema between two of these reads
  // would otherwise show tables without the application id that marks them as keval's.
  const bool own_transaction = sqlite3_get_autocommit(db) != 0;
  if (own_transaction) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  struct EndTransaction {
    sqlite3* db;
    bool own;
    ~EndTransaction() {
      if (own && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  } end{db, own_transaction};
  Inspection found;
  query("PRAGMA application_id", [&](sqlite3_stmt* s) { found.application_id = sqlite3_column_int64(s, 0); });
  bool has_meta = false;
  query("SELECT name FROM sqlite_master", [&](sqlite3_stmt* s) {
    ++found.schema_objects;
    const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    if (name && std::string_view(name) == "meta") has_meta = true;
  });
  // Someone else's `meta` may have any shape: only read ours.
  if (found.application_id == k_application_id && has_meta) {
    query("SELECT value FROM meta WHERE key = 'schema_version'", [&](sqlite3_stmt* s) {
      found.schema_version = sqlite3_column_int64(s, 0);
    });
  }
  return found;
}

// Throws unless `found` is a keval database this build can use, or an empty one.
// Returns true when it is empty (to be initialised).
bool check_inspection(const Inspection& found, const std::string& path) {
  if (found.application_id == k_application_id) {
    if (!found.schema_version) {
      throw InputError(path + " is a damaged keval database (no schema version)");
    }
    if (*found.schema_version > k_schema_version) {
      throw InputError(fmt::format("{} has keval schema version {}, newer than this keval reads ({}); "
                                   "use a newer keval",
                                   path, *found.schema_version, k_schema_version));
    }
    return false;
  }
  if (found.schema_objects > 0) throw InputError(path + " is not a keval database (it has other tables)");
  if (found.application_id != 0) {
    throw InputError(fmt::format("{} is not a keval database (application_id {:#x})", path, found.application_id));
  }
  return true;
}

// `name` is the path, or a file: URI when `flags` has SQLITE_OPEN_URI.
sqlite3* open_connection(const std::string& path, int flags, const std::string& name = "") {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(name.empty() ? path.c_str() : name.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    throw InputError(fmt::format("cannot open {}: {}", path, message));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, Store::k_busy_timeout_ms);
  return db;
}

// file: URI of a path, for the query parameters only URIs take.
std::string file_uri(const std::string& path, const char* query) {
  std::string out = "file:";
  for (unsigned char c : std::filesystem::absolute(path).string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out + "?" + query;
}

bool nonempty_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::file_size(path, ec) > 0 && !ec;
}

using Connection = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

// The file, or its directory (where SQLite keeps the -wal and -shm files), cannot be written.
bool access_denied(const std::string& path) {
  const std::string dir = std::filesystem::absolute(path).parent_path().string();
  return ::access(path.c_str(), W_OK) != 0 || ::access(dir.c_str(), W_OK) != 0;
}

[[noreturn]] void throw_read_only(const std::string& path) {
  throw InputError(fmt::format("{} is read-only (the file or its directory cannot be written); this command writes "
                               "into it, the read-only commands (runs, results, compare, gate, report) do not",
                               path));
}

// A macro so that statements stay single literals (the statement cache is keyed by address).
#define KEVAL_RUN_COLUMNS                                                                          \
  "id, name, model, backend, config_json, config_hash, keval_version, task_versions_json, status, " \
  "created_at, updated_at, finished_at"

RunRecord read_run(const Query& q, const std::string& path) {
  RunRecord r;
  r.id = q.text_at(0);
  r.name = q.text_at(1);
  r.model = q.text_at(2);
  r.backend = q.text_at(3);
  r.config = parse_json(q.text_at(4), path, "runs.config_json");
  r.config_hash = q.text_at(5);
  r.keval_version = q.text_at(6);
  r.task_versions = parse_json(q.text_at(7), path, "runs.task_versions_json");
  r.status = q.text_at(8);
  r.created_at = q.text_at(9);
  r.updated_at = q.text_at(10);
  r.finished_at = q.text_at(11);
  return r;
}

// Columns: status, text, logprobs_json, failure_kind, failure_message, http_status, from_cache,
// latency_seconds, prompt_tokens, completion_tokens, cached_from_run.
Response read_response(const Query& q, int first, const std::string& path) {
  Response r;
  if (q.text_at(first) != "ok") {
    r.failure = q.is_null(first + 3) ? FailureKind::backend : parse_failure_kind(q.text_at(first + 3));
    if (r.failure == FailureKind::none) r.failure = FailureKind::backend; // "failed" must not read as ok
  }
  r.text = q.text_at(first + 1);
  if (!q.is_null(first + 2)) {
    r.logprobs = logprobs_from_json(parse_json(q.text_at(first + 2), path, "responses.logprobs_json"), path);
  }
  r.message = q.text_at(first + 4);
  r.http_status = static_cast<int>(q.integer_at(first + 5));
  r.from_cache = q.integer_at(first + 6) != 0;
  r.latency_seconds = q.real_at(first + 7).value_or(0);
  r.prompt_tokens = q.optional_integer_at(first + 8);
  r.completion_tokens = q.optional_integer_at(first + 9);
  r.cached_from_run = q.text_at(first + 10);
  return r;
}

StoredScore read_score(const Query& q, const std::string& path) {
  StoredScore s;
  s.task = q.text_at(0);
  s.sample_id = q.text_at(1);
  s.status = q.text_at(2);
  s.extracted = q.text_at(3);
  if (!q.is_null(4)) s.score = parse_json(q.text_at(4), path, "scores.score_json");
  return s;
}

} // namespace

std::string utc_now_iso8601() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

Store::Store(const std::string& path, StoreAccess access) : m_path(path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(path + " is a directory, not a keval database");
  try {
    try {
      if (access == StoreAccess::read_only) open_read_only();
      else open_for_writing_retrying(access);
    } catch (const NeedsRecovery&) {
      throw InputError(fmt::format("cannot read {}: SQLite needs write access to it and its directory to recover "
                                   "it (a writer was killed)",
                                   m_path));
    }
  } catch (...) {
    for (auto& [sql, stmt] : m_statements) sqlite3_finalize(stmt);
    m_statements.clear();
    sqlite3_close(m_db);
    m_db = nullptr;
    throw;
  }
}

// Two writers opening one new file at once can deadlock on its first locks (one creating the
// schema, the other inspecting it, then the switch to WAL), and SQLite then answers one of them
// "database is locked" at once rather than through the busy timeout. Opening is idempotent, so the
// loser starts again until the busy timeout has passed.
void Store::open_for_writing_retrying(StoreAccess access) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(k_busy_timeout_ms);
  for (;;) {
    try {
      open_for_writing(access);
      return;
    } catch (const InputError&) {
      const int code = m_db ? (sqlite3_extended_errcode(m_db) & 0xff) : SQLITE_OK;
      if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || std::chrono::steady_clock::now() > deadline) throw;
    }
    for (auto& [sql, stmt] : m_statements) sqlite3_finalize(stmt);
    m_statements.clear();
    sqlite3_close(m_db);
    m_db = nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Reads without writing a byte, so a database on read-only media, or a file only readable by
// this user, still answers.
void Store::open_read_only() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(m_path, ec) && !ec) throw InputError("no keval database at " + m_path);
  m_db = open_read_only_connection(m_path);
  const Inspection found = inspect(m_db, m_path);
  if (check_inspection(found, m_path)) throw InputError("no keval database at " + m_path + " (the file is empty)");
  if (*found.schema_version < k_schema_version) read_older_schema(*found.schema_version);
}

void Store::open_for_writing(StoreAccess access) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(m_path, ec) || ec; // an unreadable path is reported by the open below
  if (!exists && access != StoreAccess::create) throw InputError("no keval database at " + m_path);
  bool fresh = !exists;
  if (exists) {
    // Look before touching: a read-only connection cannot alter someone else's file.
    Inspection found;
    if (access_denied(m_path)) {
      Connection ro(open_read_only_connection(m_path), &sqlite3_close);
      check_inspection(inspect(ro.get(), m_path), m_path); // a foreign or newer file is said so first
      throw_read_only(m_path);
    }
    try {
      Connection ro(open_connection(m_path, SQLITE_OPEN_READONLY), &sqlite3_close);
      found = inspect(ro.get(), m_path);
    } catch (const NeedsRecovery&) {
      // Rolling back an interrupted transaction restores the file as it was; it changes no content.
      Connection rw(open_connection(m_path, SQLITE_OPEN_READWRITE), &sqlite3_close);
      found = inspect(rw.get(), m_path);
    }
    fresh = check_inspection(found, m_path);
    if (fresh && access != StoreAccess::create) throw InputError("no keval database at " + m_path);
  } else {
    const fs::path parent = fs::path(m_path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec); // a failure shows up in the open
  }

  m_db = open_connection(m_path, SQLITE_OPEN_READWRITE | (access == StoreAccess::create ? SQLITE_OPEN_CREATE : 0));
  // SQLite opens a file it may not write read-only without saying so.
  if (sqlite3_db_readonly(m_db, "main") == 1) throw_read_only(m_path);
  exec("PRAGMA foreign_keys=ON");
  exec("PRAGMA synchronous=NORMAL");
  if (!fresh) check_integrity();
  migrate(fresh);
}

// Before writing into an existing file: a damaged one must not receive a run's results.
void Store::check_integrity() {
  std::string problems;
  int lines = 0;
  Query q(prepare("PRAGMA quick_check(3)"), m_path);
  while (q.step()) {
    const std::string line = q.text_at(0);
    if (line == "ok") continue;
    problems += (lines++ ? "; " : "") + line;
  }
  if (!problems.empty()) {
    throw InputError(fmt::format("{} is damaged (PRAGMA quick_check: {}); keval will not write into it: restore it "
                                 "from a copy",
                                 m_path, problems));
  }
}

// A reader of a database an older keval wrote: what the newer schema added reads as empty,
// through temporary objects that shadow the file's own (the file is not changed).
void Store::read_older_schema(long long version) {
  exec("PRAGMA temp_store=MEMORY");
  if (version < 2) {
    exec(("CREATE TEMP TABLE judgements" + std::string(KEVAL_JUDGEMENTS_TABLE).substr(std::string("CREATE TABLE judgements").size())).c_str());
    exec("CREATE TEMP VIEW task_results AS SELECT rowid AS rowid, *, 0 AS n_judge_failed FROM main.task_results");
  }
  if (version < 3) {
    // Usage was not recorded: unknown (NULL), never zero.
    exec("CREATE TEMP VIEW responses AS SELECT rowid AS rowid, *, NULL AS latency_seconds, NULL AS prompt_tokens, "
         "NULL AS completion_tokens, NULL AS prompt_characters, NULL AS prompt_has_hangul, NULL AS cached_from_run "
         "FROM main.responses");
    exec("CREATE TEMP VIEW cache AS SELECT rowid AS rowid, *, NULL AS run_id FROM main.cache");
    if (version == 2)
      exec("CREATE TEMP VIEW judgements AS SELECT rowid AS rowid, *, NULL AS latency_seconds, NULL AS prompt_tokens, "
           "NULL AS completion_tokens FROM main.judgements");
  }
}

Store::~Store() {
  for (auto& [sql, stmt] : m_statements) sqlite3_finalize(stmt);
  // close_v2 never fails with SQLITE_BUSY; an open transaction is rolled back.
  sqlite3_close_v2(m_db);
}

void Store::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(m_db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    sqlite3_free(error);
    throw_sqlite(m_db, m_path, sql);
  }
}

sqlite3_stmt* Store::prepare(const char* sql) {
  // Keyed by the literal's address: every call site passes its own string constant.
  if (auto it = m_statements.find(sql); it != m_statements.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    throw_sqlite(m_db, m_path, sql);
  }
  m_statements.emplace(sql, stmt);
  return stmt;
}

void Store::migrate(bool fresh) {
  if (fresh) {
    // Look again under the write lock: another process may have initialised the file since.
    exec("BEGIN IMMEDIATE");
    try {
      if (check_inspection(inspect(m_db, m_path), m_path)) {
        exec(fmt::format("PRAGMA application_id = {}", k_application_id).c_str());
        exec(k_schema);
        exec(fmt::format("INSERT INTO meta(key, value) VALUES ('schema_version', '{}')", k_schema_version).c_str());
      }
      exec("COMMIT");
    } catch (...) {
      if (!sqlite3_get_autocommit(m_db)) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  } else {
    check_inspection(inspect(m_db, m_path), m_path);
  }
  upgrade();
  // Only now that the file is known to be keval's: WAL is a persistent change to the file.
  exec("PRAGMA journal_mode=WAL");
}

// A database written by an older keval gains what its schema lacks, in one transaction.
void Store::upgrade() {
  auto version = [&]() {
    Query q(prepare("SELECT value FROM meta WHERE key = 'schema_version'"), m_path);
    return q.step() ? q.integer_at(0) : 0;
  };
  const long long before = version();
  if (before >= k_schema_version) return;
  // Said before it happens: an older keval refuses the file afterwards.
  fmt::print(stderr, "keval: upgrading {} from schema version {} to {} (older keval versions will not open it)\n",
             m_path, before, k_schema_version);
  exec("BEGIN IMMEDIATE");
  try {
    // Look again under the write lock: another process may have upgraded the file since.
    const long long found = version();
    if (found < 2) {
      exec(KEVAL_JUDGEMENTS_TABLE);
      exec("ALTER TABLE task_results ADD COLUMN n_judge_failed INTEGER NOT NULL DEFAULT 0");
    }
    if (found < 3)
      for (const char* sql : k_schema_3_additions) exec(sql);
    if (found == 2)
      for (const char* sql : k_schema_3_judgement_additions) exec(sql);
    exec(fmt::format("UPDATE meta SET value = '{}' WHERE key = 'schema_version'", k_schema_version).c_str());
    exec("COMMIT");
  } catch (...) {
    if (!sqlite3_get_autocommit(m_db)) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void Store::create_run(const RunRecord& run) {
  if (!try_create_run(run)) throw InputError(fmt::format("a run named {} already exists in {}", run.name, m_path));
}

bool Store::try_create_run(const RunRecord& run) {
  const Guard guard(m_mutex);
  Query q(prepare("INSERT INTO runs(id, name, model, backend, config_json, config_hash, keval_version, "
                  "task_versions_json, status, created_at, updated_at, finished_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
          m_path);
  q.text(run.id)
      .text(run.name)
      .text_or_null(run.model)
      .text(run.backend)
      .text(dump_json(run.config))
      .text(run.config_hash)
      .text(run.keval_version)
      .text(dump_json(run.task_versions))
      .text(run.status.empty() ? std::string(to_string(RunStatus::running)) : run.status)
      .text(run.created_at.empty() ? utc_now_iso8601() : run.created_at)
      .text_or_null(run.updated_at)
      .text_or_null(run.finished_at);
  const int rc = q.step_code();
  if (rc == SQLITE_DONE) return true;
  if (sqlite3_extended_errcode(m_db) == SQLITE_CONSTRAINT_UNIQUE) {
    const std::string_view message = sqlite3_errmsg(m_db);
    if (message.find("runs.name") != std::string_view::npos) return false;
  }
  if (sqlite3_extended_errcode(m_db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
    throw InputError(fmt::format("a run with id {} already exists in {}", run.id, m_path));
  }
  q.fail();
}

std::optional<RunRecord> Store::find_run(const std::string& id_or_name) {
  const Guard guard(m_mutex);
  {
    Query q(prepare("SELECT " KEVAL_RUN_COLUMNS " FROM runs WHERE id = ?"),
            m_path);
    q.text(id_or_name);
    if (q.step()) return read_run(q, m_path);
  }
  Query q(prepare("SELECT " KEVAL_RUN_COLUMNS " FROM runs WHERE name = ?"),
          m_path);
  q.text(id_or_name);
  if (q.step()) return read_run(q, m_path);
  return std::nullopt;
}

std::vector<RunRecord> Store::list_runs() {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT " KEVAL_RUN_COLUMNS " FROM runs ORDER BY created_at DESC, rowid DESC"),
          m_path);
  std::vector<RunRecord> runs;
  while (q.step()) runs.push_back(read_run(q, m_path));
  return runs;
}

std::optional<RunRecord> Store::latest_run() {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT " KEVAL_RUN_COLUMNS " FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1"),
          m_path);
  if (q.step()) return read_run(q, m_path);
  return std::nullopt;
}

void Store::set_run_status(const std::string& run_id, const std::string& status) {
  const Guard guard(m_mutex);
  const std::string now = utc_now_iso8601();
  Query q(prepare("UPDATE runs SET status = ?, updated_at = ?, finished_at = ? WHERE id = ?"), m_path);
  // A resumed run is running again, so its earlier finish time no longer holds.
  q.text(status).text(now).text_or_null(is_terminal_status(status) ? now : "").text(run_id);
  q.run();
  if (sqlite3_changes(m_db) == 0) throw std::runtime_error(fmt::format("no run {} in {}", run_id, m_path));
}

void Store::begin() {
  const Guard guard(m_mutex);
  // IMMEDIATE takes the write lock now, so a busy database waits here (busy_timeout) rather
  // than failing later when a read transaction tries to upgrade.
  exec("BEGIN IMMEDIATE");
}

void Store::transaction(const std::function<void()>& body) {
  const Guard guard(m_mutex);
  begin();
  try {
    body();
    commit();
  } catch (...) {
    rollback();
    throw;
  }
}

void Store::commit() {
  const Guard guard(m_mutex);
  exec("COMMIT");
}

void Store::rollback() {
  const Guard guard(m_mutex);
  // Safe to call from error paths where the transaction may already be gone.
  if (!sqlite3_get_autocommit(m_db)) exec("ROLLBACK");
}

void Store::put_response(const std::string& run_id, const std::string& task, const std::string& sample_id,
                         int turn, const nlohmann::json& request, const Response& response) {
  put_response_text(run_id, task, sample_id, turn, dump_json(request), response);
}

void Store::put_response_text(const std::string& run_id, const std::string& task, const std::string& sample_id,
                              int turn, const std::string& request_text, const Response& response) {
  const Guard guard(m_mutex);
  Query q(prepare("INSERT OR REPLACE INTO responses(run_id, task, sample_id, turn, request_json, status, text, "
                  "logprobs_json, failure_kind, failure_message, http_status, from_cache, created_at, latency_seconds, "
                  "prompt_tokens, completion_tokens, prompt_characters, prompt_has_hangul, cached_from_run) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
          m_path);
  q.text(run_id).text(task).text(sample_id).integer(turn).text(request_text);
  q.text(response.ok() ? "ok" : "failed");
  // An empty generation is an answer; an empty text beside log-probabilities or a failure is absent.
  if (response.ok() && response.logprobs.empty()) q.text(response.text);
  else q.text_or_null(response.text);
  if (response.logprobs.empty()) q.null();
  else q.text(dump_json(logprobs_to_json(response.logprobs)));
  if (response.ok()) q.null();
  else q.text(to_string(response.failure));
  q.text_or_null(response.message).integer_or_null(response.http_status).integer(response.from_cache ? 1 : 0);
  q.text(utc_now_iso8601());
  q.real_or_null(response.latency_seconds > 0 ? std::optional<double>(response.latency_seconds) : std::nullopt);
  q.integer_or_null(response.prompt_tokens).integer_or_null(response.completion_tokens);
  // The prompt's characters matter only beside the tokens the server counted (tokens per 1,000
  // Korean characters): not read for a response without them, as from an embedded backend.
  if (response.prompt_tokens) {
    const PromptText prompt = prompt_text_of(nlohmann::json::parse(request_text, nullptr, false));
    q.integer(prompt.characters).integer(prompt.has_hangul ? 1 : 0);
  } else {
    q.null().null();
  }
  if (response.from_cache) q.text_or_null(response.cached_from_run);
  else q.null();
  q.run();
}

void Store::put_score(const std::string& run_id, const StoredScore& score) {
  const Guard guard(m_mutex);
  Query q(prepare("INSERT OR REPLACE INTO scores(run_id, task, sample_id, status, extracted, score_json) "
                  "VALUES (?, ?, ?, ?, ?, ?)"),
          m_path);
  q.text(run_id).text(score.task).text(score.sample_id).text(score.status).text_or_null(score.extracted);
  if (score.score.is_null()) q.null();
  else q.text(dump_json(score.score));
  q.run();
}

void Store::put_task_results(const std::string& run_id, const std::vector<TaskResult>& results) {
  const Guard guard(m_mutex);
  // A savepoint keeps the replacement whole even when the caller did not open a transaction.
  exec("SAVEPOINT put_task_results");
  try {
    {
      Query del(prepare("DELETE FROM task_results WHERE run_id = ?"), m_path);
      del.text(run_id).run();
    }
    for (const TaskResult& r : results) {
      Query q(prepare("INSERT INTO task_results(run_id, task, metric, value, stderr, ci_low, ci_high, n, "
                      "n_failed, n_unparsed, is_group, aggregation, n_judge_failed) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
              m_path);
      q.text(run_id).text(r.task).text(r.metric);
      q.real_or_null(r.value).real_or_null(r.stderr_value).real_or_null(r.ci_low).real_or_null(r.ci_high);
      q.integer(r.n).integer(r.n_failed).integer(r.n_unparsed).integer(r.is_group ? 1 : 0);
      q.text_or_null(r.aggregation).integer(r.n_judge_failed);
      q.run();
    }
    exec("RELEASE put_task_results");
  } catch (...) {
    sqlite3_exec(m_db, "ROLLBACK TO put_task_results; RELEASE put_task_results", nullptr, nullptr, nullptr);
    throw;
  }
}

std::unordered_map<std::string, Response> Store::load_ok_responses(const std::string& run_id) {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT task, sample_id, turn, status, text, logprobs_json, failure_kind, failure_message, "
                  "http_status, from_cache, latency_seconds, prompt_tokens, completion_tokens, cached_from_run "
                  "FROM responses WHERE run_id = ? AND status = 'ok'"),
          m_path);
  q.text(run_id);
  std::unordered_map<std::string, Response> out;
  while (q.step()) {
    out.emplace(SampleKey{q.text_at(0), q.text_at(1), static_cast<int>(q.integer_at(2))}.str(), read_response(q, 3, m_path));
  }
  return out;
}

std::vector<StoredResponse> Store::load_responses(const std::string& run_id, const std::string& task) {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT task, sample_id, turn, status, text, logprobs_json, failure_kind, failure_message, "
                  "http_status, from_cache, latency_seconds, prompt_tokens, completion_tokens, cached_from_run "
                  "FROM responses WHERE run_id = ? AND task = ? "
                  "ORDER BY sample_id, turn"),
          m_path);
  q.text(run_id).text(task);
  std::vector<StoredResponse> out;
  while (q.step()) {
    StoredResponse r;
    r.task = q.text_at(0);
    r.sample_id = q.text_at(1);
    r.turn = static_cast<int>(q.integer_at(2));
    r.response = read_response(q, 3, m_path);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<StoredScore> Store::load_scores(const std::string& run_id, const std::string& task) {
  std::vector<StoredScore> out;
  for_each_score(run_id, task, [&](StoredScore&& s) { out.push_back(std::move(s)); });
  return out;
}

void Store::for_each_score(const std::string& run_id, const std::string& task,
                           const std::function<void(StoredScore&&)>& on_score) {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT task, sample_id, status, extracted, score_json FROM scores "
                  "WHERE run_id = ? AND task = ? ORDER BY sample_id"),
          m_path);
  q.text(run_id).text(task);
  while (q.step()) on_score(read_score(q, m_path));
}

std::vector<StoredScore> Store::load_all_scores(const std::string& run_id) {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT task, sample_id, status, extracted, score_json FROM scores "
                  "WHERE run_id = ? ORDER BY task, sample_id"),
          m_path);
  q.text(run_id);
  std::vector<StoredScore> out;
  while (q.step()) out.push_back(read_score(q, m_path));
  return out;
}

std::vector<TaskResult> Store::load_task_results(const std::string& run_id) {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT task, metric, value, stderr, ci_low, ci_high, n, n_failed, n_unparsed, is_group, "
                  "aggregation, n_judge_failed FROM task_results WHERE run_id = ? ORDER BY rowid"),
          m_path);
  q.text(run_id);
  std::vector<TaskResult> out;
  while (q.step()) {
    TaskResult r;
    r.task = q.text_at(0);
    r.metric = q.text_at(1);
    r.value = q.real_at(2);
    r.stderr_value = q.real_at(3);
    r.ci_low = q.real_at(4);
    r.ci_high = q.real_at(5);
    r.n = q.integer_at(6);
    r.n_failed = q.integer_at(7);
    r.n_unparsed = q.integer_at(8);
    r.is_group = q.integer_at(9) != 0;
    r.aggregation = q.text_at(10);
    r.n_judge_failed = q.integer_at(11);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<nlohmann::json> Store::load_request(const std::string& run_id, const std::string& task,
                                                  const std::string& sample_id, int turn) {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT request_json FROM responses WHERE run_id = ? AND task = ? AND sample_id = ? AND turn = ?"),
          m_path);
  q.text(run_id).text(task).text(sample_id).integer(turn);
  if (!q.step()) return std::nullopt;
  return parse_json(q.text_at(0), m_path, "responses.request_json");
}

RunUsage Store::run_usage(const std::string& run_id) {
  const Guard guard(m_mutex);
  // created_at as seconds since the epoch, with its milliseconds.
  Query q(prepare("SELECT status, from_cache, cached_from_run, latency_seconds, "
                  "(julianday(created_at) - 2440587.5) * 86400.0, prompt_tokens, completion_tokens, "
                  "prompt_characters, prompt_has_hangul FROM responses WHERE run_id = ?"),
          m_path);
  q.text(run_id);
  std::vector<UsageRow> rows;
  while (q.step()) {
    UsageRow r;
    r.ok = q.text_at(0) == "ok";
    r.from_cache = q.integer_at(1) != 0;
    r.cached_from_run = q.text_at(2);
    r.latency_seconds = q.real_at(3);
    r.finished_at_seconds = q.real_at(4);
    r.prompt_tokens = q.optional_integer_at(5);
    r.completion_tokens = q.optional_integer_at(6);
    r.prompt_characters = q.optional_integer_at(7).value_or(0);
    r.prompt_has_hangul = q.integer_at(8) != 0;
    rows.push_back(std::move(r));
  }
  RunUsage usage = summarize_usage(rows);
  // The judge's verdicts, every attempt (an unreadable verdict asked again is a second request).
  Query judged(prepare("SELECT from_cache, prompt_tokens, completion_tokens FROM judgements WHERE run_id = ?"), m_path);
  judged.text(run_id);
  while (judged.step()) {
    if (judged.integer_at(0) != 0) {
      ++usage.judge_cached;
      continue;
    }
    ++usage.judge_sent;
    if (auto n = judged.optional_integer_at(1)) usage.judge_prompt_tokens = usage.judge_prompt_tokens.value_or(0) + *n;
    if (auto n = judged.optional_integer_at(2)) usage.judge_completion_tokens = usage.judge_completion_tokens.value_or(0) + *n;
  }
  return usage;
}

std::optional<Response> Store::cache_get(const std::string& key) {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT response_json, run_id FROM cache WHERE key = ?"), m_path);
  q.text(key);
  if (!q.step()) return std::nullopt;
  const nlohmann::json j = parse_json(q.text_at(0), m_path, "cache.response_json");
  Response r;
  try {
    if (j.contains("failure")) r.failure = parse_failure_kind(j.at("failure").get<std::string>());
    r.message = j.value("message", "");
    r.http_status = j.value("http_status", 0);
    r.text = j.value("text", "");
    if (j.contains("logprobs")) r.logprobs = logprobs_from_json(j.at("logprobs"), m_path);
    if (j.contains("prompt_tokens")) r.prompt_tokens = j.at("prompt_tokens").get<long long>();
    if (j.contains("completion_tokens")) r.completion_tokens = j.at("completion_tokens").get<long long>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{} is damaged: corrupt cache entry {}: {}", m_path, key, e.what()));
  }
  r.from_cache = true; // what the caller gets came from the cache, whatever was stored
  r.cached_from_run = q.text_at(1);
  return r;
}

void Store::cache_put(const std::string& key, const Response& response, const std::string& run_id) {
  const Guard guard(m_mutex);
  nlohmann::json j = nlohmann::json::object();
  if (!response.ok()) j["failure"] = to_string(response.failure);
  if (!response.message.empty()) j["message"] = response.message;
  if (response.http_status != 0) j["http_status"] = response.http_status;
  if (!response.text.empty() || response.logprobs.empty()) j["text"] = response.text;
  if (!response.logprobs.empty()) j["logprobs"] = logprobs_to_json(response.logprobs);
  // The tokens the answer took: a run answered from the cache still knows its prompts' tokens.
  if (response.prompt_tokens) j["prompt_tokens"] = *response.prompt_tokens;
  if (response.completion_tokens) j["completion_tokens"] = *response.completion_tokens;
  // An entry keeps the run that first stored its answer; a different answer (sent again with
  // --no-cache) replaces it, with the run that stored that one.
  Query q(prepare("INSERT INTO cache(key, response_json, created_at, run_id) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT(key) DO UPDATE SET "
                  "run_id = CASE WHEN cache.response_json = excluded.response_json THEN cache.run_id ELSE excluded.run_id END, "
                  "created_at = CASE WHEN cache.response_json = excluded.response_json THEN cache.created_at "
                  "ELSE excluded.created_at END, response_json = excluded.response_json"),
          m_path);
  q.text(key).text(dump_json(j)).text(utc_now_iso8601()).text_or_null(run_id);
  q.run();
}

void Store::put_judgement(const std::string& run_id, const StoredJudgement& j, const nlohmann::json& request) {
  const Guard guard(m_mutex);
  Query q(prepare("INSERT OR REPLACE INTO judgements(run_id, task, sample_id, turn, attempt, request_json, status, text, "
                  "rating, failure_kind, failure_message, from_cache, created_at, latency_seconds, prompt_tokens, "
                  "completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
          m_path);
  q.text(run_id).text(j.task).text(j.sample_id).integer(j.turn).integer(j.attempt).text(dump_json(request));
  q.text(j.status).text_or_null(j.response.text).real_or_null(j.rating);
  if (j.response.ok()) q.null();
  else q.text(to_string(j.response.failure));
  q.text_or_null(j.response.message).integer(j.response.from_cache ? 1 : 0).text(utc_now_iso8601());
  q.real_or_null(j.response.latency_seconds > 0 ? std::optional<double>(j.response.latency_seconds) : std::nullopt);
  q.integer_or_null(j.response.prompt_tokens).integer_or_null(j.response.completion_tokens);
  q.run();
}

std::vector<StoredJudgement> Store::load_judgements(const std::string& run_id, const std::string& task) {
  const Guard guard(m_mutex);
  Query q(prepare("SELECT task, sample_id, turn, attempt, status, text, rating, failure_kind, failure_message, from_cache, "
                  "latency_seconds, prompt_tokens, completion_tokens "
                  "FROM judgements WHERE run_id = ? AND task = ? ORDER BY sample_id, turn, attempt"),
          m_path);
  q.text(run_id).text(task);
  std::vector<StoredJudgement> out;
  while (q.step()) {
    StoredJudgement j;
    j.task = q.text_at(0);
    j.sample_id = q.text_at(1);
    j.turn = static_cast<int>(q.integer_at(2));
    j.attempt = static_cast<int>(q.integer_at(3));
    j.status = q.text_at(4);
    j.response.text = q.text_at(5);
    j.rating = q.real_at(6);
    if (!q.is_null(7)) j.response.failure = parse_failure_kind(q.text_at(7));
    j.response.message = q.text_at(8);
    j.response.from_cache = q.integer_at(9) != 0;
    j.response.latency_seconds = q.real_at(10).value_or(0);
    j.response.prompt_tokens = q.optional_integer_at(11);
    j.response.completion_tokens = q.optional_integer_at(12);
    out.push_back(std::move(j));
  }
  return out;
}

CommitPacer::CommitPacer(Store& store, size_t every, std::chrono::milliseconds interval)
    : m_store(store), m_every(std::max<size_t>(every, 1)), m_interval(interval), m_timer([this] { timer_loop(); }) {}

CommitPacer::~CommitPacer() {
  {
    const std::lock_guard lock(m_queue_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  m_timer.join();
}

void CommitPacer::put_response(const std::string& run_id, const std::string& task, const std::string& sample_id,
                               int turn, nlohmann::json request, Response response) {
  queue([run_id, task, sample_id, turn, request = std::move(request), response = std::move(response)](Store& s) {
    s.put_response(run_id, task, sample_id, turn, request, response);
  });
}

void CommitPacer::put_response_text(const std::string& run_id, const std::string& task, const std::string& sample_id,
                                    int turn, std::string request_text, Response response) {
  queue([run_id, task, sample_id, turn, request_text = std::move(request_text), response = std::move(response)](Store& s) {
    s.put_response_text(run_id, task, sample_id, turn, request_text, response);
  });
}

void CommitPacer::put_score(const std::string& run_id, StoredScore score) {
  queue([run_id, score = std::move(score)](Store& s) { s.put_score(run_id, score); });
}

void CommitPacer::put_judgement(const std::string& run_id, StoredJudgement judgement, nlohmann::json request) {
  queue([run_id, judgement = std::move(judgement), request = std::move(request)](Store& s) {
    s.put_judgement(run_id, judgement, request);
  });
}

void CommitPacer::cache_put(const std::string& key, Response response, std::string run_id) {
  queue([key, response = std::move(response), run_id = std::move(run_id)](Store& s) { s.cache_put(key, response, run_id); });
}

void CommitPacer::queue(Write write) {
  bool full = false;
  {
    const std::lock_guard lock(m_queue_mutex);
    if (m_failure) std::rethrow_exception(std::exchange(m_failure, nullptr));
    if (m_queued.empty()) {
      m_oldest = std::chrono::steady_clock::now();
      m_wake.notify_all(); // the timer starts counting from this write
    }
    m_queued.push_back(std::move(write));
    full = m_queued.size() >= m_every;
  }
  // A full batch is committed by the caller: a stream faster than the disk waits here rather
  // than growing the queue.
  if (full) flush();
}

void CommitPacer::flush() {
  const std::lock_guard commit(m_commit_mutex);
  std::vector<Write> writes;
  {
    const std::lock_guard lock(m_queue_mutex);
    if (m_failure) std::rethrow_exception(std::exchange(m_failure, nullptr));
    writes.swap(m_queued);
  }
  commit_taken(writes);
}

// Called with m_commit_mutex held. The whole batch is one transaction: all of it lands or none.
void CommitPacer::commit_taken(std::vector<Write>& writes) {
  if (writes.empty()) return;
  m_store.transaction([&] {
    for (auto& write : writes) write(m_store);
  });
  writes.clear();
}

void CommitPacer::timer_loop() {
  std::unique_lock lock(m_queue_mutex);
  while (!m_stopping) {
    if (m_queued.empty() || m_failure) {
      m_wake.wait(lock);
      continue;
    }
    const auto due = m_oldest + m_interval;
    if (std::chrono::steady_clock::now() < due) {
      m_wake.wait_until(lock, due);
      continue;
    }
    lock.unlock();
    try {
      flush();
    } catch (...) {
      lock.lock();
      m_failure = std::current_exception();
      continue;
    }
    lock.lock();
  }
}

// A database closed cleanly has no -wal beside it; when its directory is read-only SQLite
// cannot create one (nor the -shm), and the file is opened as immutable: nothing can be writing
// it. A -wal left beside it is read through the normal read-only connection, since immutable
// would skip the committed rows it holds.
sqlite3* open_read_only_connection(const std::string& path) {
  constexpr const char* k_probe = "SELECT count(*) FROM sqlite_master";
  Connection db(open_connection(path, SQLITE_OPEN_READONLY), &sqlite3_close);
  if (sqlite3_exec(db.get(), k_probe, nullptr, nullptr, nullptr) == SQLITE_OK) return db.release();
  const int code = sqlite3_extended_errcode(db.get()) & 0xff;
  if (code == SQLITE_NOTADB) throw InputError(path + " is not a keval database (not SQLite)");
  if (code != SQLITE_READONLY && code != SQLITE_CANTOPEN) throw_sqlite(db.get(), path, k_probe);
  if (nonempty_file(path + "-wal")) {
    throw InputError(fmt::format("cannot read {}: its write-ahead log {}-wal holds changes that need write access to "
                                 "the directory to be read (a writer was killed); open it once where it is writable",
                                 path, path));
  }
  db.reset(open_connection(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, file_uri(path, "immutable=1")));
  if (sqlite3_exec(db.get(), k_probe, nullptr, nullptr, nullptr) != SQLITE_OK) {
    if ((sqlite3_extended_errcode(db.get()) & 0xff) == SQLITE_NOTADB)
      throw InputError(path + " is not a keval database (not SQLite)");
    throw_sqlite(db.get(), path, k_probe);
  }
  return db.release();
}

void throw_sqlite_error(sqlite3* db, const std::string& path, std::string_view what) { throw_sqlite(db, path, what); }

#undef KEVAL_RUN_COLUMNS

void Store::update_run_config(const std::string& run_id, const nlohmann::json& config) {
  Query q(prepare("UPDATE runs SET config_json = ?, updated_at = ? WHERE id = ?"), m_path);
  q.text(dump_json(config)).text(utc_now_iso8601()).text(run_id);
  q.run();
  if (sqlite3_changes(m_db) == 0) throw std::runtime_error(fmt::format("no run {} in {}", run_id, m_path));
}

void Store::import_run_rows(const std::string& source_path, const std::string& from_run, const std::string& to_run) {
  auto columns = [&](const char* schema, const char* table) {
    std::vector<std::string> names;
    sqlite3_stmt* stmt = nullptr;
    const std::string sql = fmt::format("PRAGMA {}.table_info({})", schema, table);
    if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) throw_sqlite(m_db, m_path, sql);
    while (sqlite3_step(stmt) == SQLITE_ROW) names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)));
    sqlite3_finalize(stmt);
    return names;
  };
  {
    sqlite3_stmt* stmt = nullptr;
    const char* sql = "ATTACH DATABASE ? AS shard";
    if (sqlite3_prepare_v2(m_db, sql, -1, &stmt, nullptr) != SQLITE_OK) throw_sqlite(m_db, m_path, sql);
    sqlite3_bind_text(stmt, 1, source_path.c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw_sqlite(m_db, m_path, sql);
  }
  try {
    exec("BEGIN IMMEDIATE");
    for (const char* table : {"responses", "scores", "judgements"}) {
      const auto ours = columns("main", table);
      const auto theirs = columns("shard", table);
      std::vector<std::string> shared;
      for (const auto& c : ours)
        if (c != "run_id") {
          if (std::find(theirs.begin(), theirs.end(), c) == theirs.end())
            throw InputError(fmt::format("{}: its table {} lacks column {}: open it once with this keval's `keval run "
                                         "--resume` or re-run the shard with this version", source_path, table, c));
          shared.push_back(c);
        }
      std::string list;
      for (const auto& c : shared) list += ", " + c;
      const std::string sql = fmt::format("INSERT OR REPLACE INTO main.{0}(run_id{1}) SELECT ?{1} FROM shard.{0} WHERE run_id = ?",
                                          table, list);
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) throw_sqlite(m_db, m_path, sql);
      sqlite3_bind_text(stmt, 1, to_run.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt, 2, from_run.c_str(), -1, SQLITE_TRANSIENT);
      const int rc = sqlite3_step(stmt);
      sqlite3_finalize(stmt);
      if (rc != SQLITE_DONE) throw_sqlite(m_db, m_path, sql);
    }
    exec("COMMIT");
  } catch (...) {
    if (!sqlite3_get_autocommit(m_db)) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_exec(m_db, "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    throw;
  }
  exec("DETACH DATABASE shard");
}

std::map<std::string, std::map<std::string, long long>> Store::count_scores(const std::string& run_id) {
  std::map<std::string, std::map<std::string, long long>> out;
  Query q(prepare("SELECT task, status, COUNT(*) FROM scores WHERE run_id = ? GROUP BY task, status"), m_path);
  q.text(run_id);
  while (q.step()) out[q.text_at(0)][q.text_at(1)] = q.integer_at(2);
  return out;
}

// ---- StoreReader ----

namespace {

std::string_view column_view(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string_view();
}

// Binds (run, task), calls `row` for each row, and resets the statement even when `row` throws.
template <typename F>
void each_row(sqlite3* db, const std::string& path, sqlite3_stmt* statement, const std::string& run_id,
              const std::string& task, F&& row) {
  sqlite3_reset(statement);
  sqlite3_bind_text(statement, 1, run_id.data(), static_cast<int>(run_id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(statement, 2, task.data(), static_cast<int>(task.size()), SQLITE_TRANSIENT);
  struct Reset {
    sqlite3_stmt* s;
    ~Reset() { sqlite3_reset(s); }
  } reset{statement};
  int rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) row(statement);
  if (rc != SQLITE_DONE) throw_sqlite(db, path, sqlite3_sql(statement));
}

} // namespace

StoreReader::StoreReader(const std::string& path) : m_path(path) {
  // As the store reads: immutable on read-only media; the connection belongs to one thread.
  m_db = open_read_only_connection(path);
  auto prepare = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      const std::string message = sqlite3_errmsg(m_db);
      sqlite3_finalize(m_scores);
      sqlite3_finalize(m_responses);
      sqlite3_close(m_db);
      throw InputError(fmt::format("{}: not a keval database this version can read ({})", path, message));
    }
    return s;
  };
  m_scores = prepare("SELECT sample_id, status, extracted, score_json FROM scores WHERE run_id = ?1 AND task = ?2 "
                     "ORDER BY rowid");
  m_responses = prepare("SELECT sample_id, turn, status, text, logprobs_json, failure_kind, failure_message "
                        "FROM responses WHERE run_id = ?1 AND task = ?2");
  m_responses_with_requests = prepare("SELECT sample_id, turn, status, text, logprobs_json, failure_kind, failure_message, "
                                      "request_json FROM responses WHERE run_id = ?1 AND task = ?2");
}

StoreReader::~StoreReader() {
  for (auto* s : {m_scores, m_responses, m_responses_with_requests}) sqlite3_finalize(s);
  sqlite3_close(m_db);
}

void StoreReader::for_each_raw_score(const std::string& run_id, const std::string& task,
                                     const std::function<void(const RawScoreRow&)>& on_row) {
  each_row(m_db, m_path, m_scores, run_id, task, [&](sqlite3_stmt* s) {
    on_row(RawScoreRow{column_view(s, 0), column_view(s, 1), column_view(s, 2), column_view(s, 3)});
  });
}

void StoreReader::for_each_raw_response(const std::string& run_id, const std::string& task, bool with_requests,
                                        const std::function<void(const RawResponseRow&)>& on_row) {
  each_row(m_db, m_path, with_requests ? m_responses_with_requests : m_responses, run_id, task, [&](sqlite3_stmt* s) {
    RawResponseRow row;
    row.sample_id = column_view(s, 0);
    row.turn = static_cast<int>(std::max<sqlite3_int64>(0, sqlite3_column_int64(s, 1)));
    row.status = column_view(s, 2);
    row.text = column_view(s, 3);
    if (sqlite3_column_type(s, 4) != SQLITE_NULL) row.logprobs_json = column_view(s, 4);
    row.failure_kind = column_view(s, 5);
    row.failure_message = column_view(s, 6);
    if (with_requests) row.request_json = column_view(s, 7);
    on_row(row);
  });
}

} // namespace keval
