#include "site_data.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "html.h"
#include "status.h"

namespace keval::site {
namespace {

// The raw text of a top-level member of a JSON object, without parsing the rest (stored score
// records are passed through, not interpreted). Empty when absent.
std::string_view member_text(std::string_view json, std::string_view key) {
  int depth = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < json.size() && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
      if (j >= json.size()) return {};
      const std::string_view str = json.substr(i + 1, j - i - 1);
      size_t k = j + 1;
      while (k < json.size() && (json[k] == ' ' || json[k] == '\n' || json[k] == '\t' || json[k] == '\r')) ++k;
      if (depth == 1 && k < json.size() && json[k] == ':' && str == key) {
        size_t start = k + 1;
        while (start < json.size() && json[start] == ' ') ++start;
        int d = 0;
        size_t e = start;
        for (; e < json.size(); ++e) {
          const char x = json[e];
          if (x == '"') {
            ++e;
            while (e < json.size() && json[e] != '"') e += json[e] == '\\' ? 2 : 1;
          } else if (x == '{' || x == '[') {
            ++d;
          } else if (x == '}' || x == ']') {
            if (d == 0) break;
            --d;
          } else if (x == ',' && d == 0) {
            break;
          }
        }
        return json.substr(start, std::min(e, json.size()) - start);
      }
      i = j;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return {};
}

// Log-probabilities cut to 3 decimals, textually (no parse: there are millions of them, and the
// page only shows them). Exponents are kept, so every number stays valid JSON.
std::string compact_numbers(std::string_view array_text) {
  std::string out;
  out.reserve(array_text.size());
  int decimals = -1;  // -1: not after a decimal point
  for (char c : array_text) {
    if (c == '.') {
      decimals = 0;
    } else if (c >= '0' && c <= '9') {
      if (decimals >= 0 && ++decimals > 3) continue;
    } else {
      decimals = -1;
    }
    out += c;
  }
  return out;
}

// What part of each task the run evaluated, and why it is partial if it is. A run's own count
// of samples (`n_samples` in its configuration, after --limit) against what it stored.
void find_coverage(RunView& v) {
  const nlohmann::json& config = v.run.config;
  if (config.contains("limit") && !config.at("limit").is_null())
    v.partial_reasons.push_back(fmt::format("--limit {}", config.at("limit").dump()));
  if (config.contains("shard") && !config.at("shard").is_null())
    v.partial_reasons.push_back(fmt::format("shard {}", config.at("shard").is_string() ? config.at("shard").get<std::string>()
                                                                                      : config.at("shard").dump()));
  // "incomplete" is a finished run with failures: those are counted per task below.
  const auto run_status = parse_run_status(v.run.status);
  if (run_status != RunStatus::complete && run_status != RunStatus::incomplete)
    v.partial_reasons.push_back(fmt::format("run {}", v.run.status.empty() ? "unfinished" : v.run.status));
  v.whole_run_partial = !v.partial_reasons.empty();

  long long failed = 0, missing = 0;
  size_t failed_tasks = 0, missing_tasks = 0;
  for (const auto& t : config.value("tasks", nlohmann::json::array())) {
    const std::string name = t.value("name", "");
    Coverage c;
    c.samples = t.value("n_samples", 0LL);
    auto r = v.results.find(name);
    if (r != v.results.end() && !r->second.empty()) {
      const TaskResult& any = r->second.begin()->second;  // every metric of a task has the same counts
      c.failed = any.n_failed + any.n_judge_failed;
      c.missing = std::max(0LL, c.samples - any.n - c.failed);
    } else {
      c.missing = c.samples;
    }
    failed += c.failed;
    missing += c.missing;
    failed_tasks += c.failed ? 1 : 0;
    missing_tasks += c.missing ? 1 : 0;
    v.coverage[name] = c;
  }
  auto in_tasks = [](size_t n) { return n == 1 ? std::string("in 1 task") : fmt::format("in {} tasks", n); };
  if (failed) v.partial_reasons.push_back(fmt::format("{} samples failed {}", failed, in_tasks(failed_tasks)));
  if (missing) v.partial_reasons.push_back(fmt::format("{} samples missing {}", missing, in_tasks(missing_tasks)));
}

// Appends `s` as a JSON string that is also safe inside <script>: < > & U+2028 U+2029 as \uXXXX.
// Invalid UTF-8 is passed through; the browser decodes it as U+FFFD.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '<': out += "\\u003c"; break;
    case '>': out += "\\u003e"; break;
    case '&': out += "\\u0026"; break;
    default:
      if (c < 0x20) {
        out += fmt::format("\\u{:04x}", c);
      } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                 (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
        out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
        i += 2;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

// The hash each task was most often run with, counting full runs only where any full run has
// the task (ties: the newest run's).
void find_usual_hashes(Model& m) {
  std::map<std::string, std::map<std::string, std::pair<int, int>>> counts;  // task -> hash -> (full, all)
  std::map<std::string, std::vector<std::string>> order;                       // task -> hashes, newest run first
  for (auto& v : m.runs) {
    for (const auto& t : v.run.config.value("tasks", nlohmann::json::array())) {
      const std::string name = t.value("name", ""), hash = t.value("hash", "");
      if (hash.empty()) continue;
      v.task_hashes[name] = hash;
      auto& c = counts[name][hash];
      if (c.second == 0) order[name].push_back(hash);
      c.first += v.partial() ? 0 : 1;
      c.second += 1;
    }
  }
  for (const auto& [task, hashes] : order) {
    const auto& c = counts[task];
    std::string best = hashes.front();
    for (const auto& h : hashes)
      if (c.at(h) > c.at(best)) best = h;  // (full, all) compared in that order
    m.usual_hash[task] = best;
  }
}

} // namespace

// Runs newest first with their results; the entries every run's configuration names (groups,
// then tasks, in first appearance order); then coverage and the usual task content.
Model build_model(Store& store) {
  Model m;
  for (auto& run : store.list_runs()) {
    RunView v;
    v.run = std::move(run);
    for (auto& r : store.load_task_results(v.run.id)) v.results[r.task][r.metric] = r;
    v.usage = store.run_usage(v.run.id);
    v.prices = recorded_prices(v.run.config);
    for (const auto& t : v.run.config.value("tasks", nlohmann::json::array())) v.tasks.insert(t.value("name", ""));
    m.runs.push_back(std::move(v));
  }
  std::vector<Entry> groups, tasks;
  std::map<std::string, size_t> group_at, task_at;
  for (const auto& v : m.runs) {
    for (const auto& g : v.run.config.value("groups", nlohmann::json::array()))
      for (const auto& member : g.value("members", std::vector<std::string>{})) m.grouped.insert(member);
    for (const auto& r : v.run.config.value("tasks", nlohmann::json::array())) {
      const std::string name = r.value("name", "");
      if (!task_at.count(name)) {
        task_at[name] = tasks.size();
        tasks.push_back(Entry{name, false, "", {}, {}});
      }
      for (const auto& metric : r.value("metrics", std::vector<std::string>{})) {
        auto& known = tasks[task_at[name]].metrics;
        if (std::find(known.begin(), known.end(), metric) == known.end()) known.push_back(metric);
      }
    }
    for (const auto& g : v.run.config.value("groups", nlohmann::json::array())) {
      const std::string name = g.value("name", "");
      if (!group_at.count(name)) {
        group_at[name] = groups.size();
        groups.push_back(Entry{name, true, g.value("aggregate", "macro"), {}, g.value("members", std::vector<std::string>{})});
      }
    }
    for (const auto& [entry, metrics] : v.results) {
      auto it = group_at.find(entry);
      if (it == group_at.end()) continue;
      for (const auto& [metric, r] : metrics) {
        auto& known = groups[it->second].metrics;
        if (std::find(known.begin(), known.end(), metric) == known.end()) known.push_back(metric);
      }
    }
  }
  // A group's headline metric is its members' first metric when they share it.
  for (auto& g : groups) {
    if (g.members.empty()) continue;
    const std::string& first = g.members.front();
    std::string head;
    if (task_at.count(first) && !tasks[task_at[first]].metrics.empty()) head = tasks[task_at[first]].metrics.front();
    else if (group_at.count(first) && !groups[group_at[first]].metrics.empty()) head = groups[group_at[first]].metrics.front();
    auto it = std::find(g.metrics.begin(), g.metrics.end(), head);
    if (it != g.metrics.end()) std::rotate(g.metrics.begin(), it, it + 1);
  }
  for (auto& g : groups) m.entries.push_back(std::move(g));
  for (auto& t : tasks) m.entries.push_back(std::move(t));
  for (size_t i = 0; i < m.entries.size(); ++i) m.entry_at[m.entries[i].name] = i;
  for (auto& v : m.runs) find_coverage(v);
  find_usual_hashes(m);
  return m;
}

bool Model::partial(const RunView& run, const std::string& entry) const {
  auto at = entry_at.find(entry);
  if (at == entry_at.end()) return false;
  const Entry& e = entries[at->second];
  if (run.whole_run_partial) return true;
  if (!e.is_group) {
    auto c = run.coverage.find(entry);
    return c != run.coverage.end() && (c->second.failed || c->second.missing);
  }
  // A group is partial when a member is, or when the run lacks a member altogether.
  for (const auto& member : e.members) {
    if (!run.results.count(member) && !run.tasks.count(member)) return true;
    if (partial(run, member)) return true;
  }
  return false;
}

namespace {

// One run's stored rows for one sample.
struct SampleRow {
  std::string status, extracted, values, gold;  // values and gold: script-safe JSON text
  std::vector<std::string> turns;               // script-safe JSON of each turn's answer
};

char status_letter(const std::string& status) {
  const auto s = parse_sample_status(status);
  return s == SampleStatus::failed || s == SampleStatus::judge_failed ? 'f' : s == SampleStatus::unparsed ? 'u' : 's';
}

} // namespace

size_t write_sample_files(StoreReader& reader, const std::string& task, const std::string& metric,
                          const std::vector<const RunView*>& runs, size_t chunk_size,
                          const std::function<void(const std::string& name, const std::string& content)>& write) {
  chunk_size = std::max<size_t>(1, chunk_size);
  std::vector<std::string> ids;
  std::unordered_map<std::string, size_t> index;
  std::vector<std::vector<std::optional<SampleRow>>> rows(runs.size());
  for (size_t k = 0; k < runs.size(); ++k) {
    auto& mine = rows[k];
    reader.for_each_raw_score(runs[k]->run.id, task, [&](const RawScoreRow& s) {
      std::string id(s.sample_id);
      auto [it, inserted] = index.emplace(id, ids.size());
      if (inserted) ids.push_back(std::move(id));
      if (mine.size() <= it->second) mine.resize(it->second + 1);
      SampleRow row;
      row.status = std::string(s.status);
      row.extracted = std::string(s.extracted);
      const std::string_view v = member_text(s.score_json, "values");
      row.values = v.empty() ? "null" : html::script_safe(v);
      std::string_view g = member_text(s.score_json, "gold_number");
      if (g.empty() || g == "null") g = member_text(s.score_json, "gold");
      row.gold = g.empty() ? "null" : html::script_safe(g);
      mine[it->second] = std::move(row);
    });
  }
  for (auto& r : rows) r.resize(ids.size());

  // Answers, and each sample's prompt: the stored requests of the first run that has it.
  std::vector<std::vector<std::string>> requests(ids.size());
  size_t without_request = ids.size();
  for (size_t k = 0; k < runs.size(); ++k) {
    auto& mine = rows[k];
    const bool with_requests = without_request > 0;
    std::vector<std::vector<std::string>> found(with_requests ? ids.size() : 0);
    reader.for_each_raw_response(runs[k]->run.id, task, with_requests, [&](const RawResponseRow& s) {
      auto it = index.find(std::string(s.sample_id));
      if (it == index.end()) return;
      const auto turn = static_cast<size_t>(s.turn);
      if (with_requests && requests[it->second].empty()) {
        auto& turns = found[it->second];
        if (turns.size() <= turn) turns.resize(turn + 1, "null");
        turns[turn] = html::script_safe(s.request_json);
      }
      if (!mine[it->second]) return;
      auto& t = mine[it->second]->turns;
      if (t.size() <= turn) t.resize(turn + 1, "null");
      std::string answer;
      if (s.status != "ok")
        append_json_string(answer, fmt::format("[no answer: {}: {}]", s.failure_kind, s.failure_message));
      else if (s.logprobs_json)
        answer = compact_numbers(*s.logprobs_json);
      else
        append_json_string(answer, s.text);
      t[turn] = std::move(answer);
    });
    for (size_t i = 0; i < found.size(); ++i)
      if (requests[i].empty() && !found[i].empty()) {
        requests[i] = std::move(found[i]);
        --without_request;
      }
  }

  // The index: ids and every run's status and headline value per sample.
  std::string out;
  out.reserve(64 * ids.size() + 256);
  out += "kevalSamples.index({\"task\":";
  append_json_string(out, task);
  out += ",\"metric\":";
  append_json_string(out, metric);
  out += fmt::format(",\"chunk_size\":{},\"runs\":[", chunk_size);
  for (size_t k = 0; k < runs.size(); ++k) {
    out += k ? ",{\"id\":" : "{\"id\":";
    append_json_string(out, runs[k]->run.id);
    out += ",\"name\":";
    append_json_string(out, runs[k]->run.name);
    out += '}';
  }
  out += "],\"ids\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, ids[i]);
  }
  out += "],\"values\":[";
  for (size_t k = 0; k < runs.size(); ++k) {
    out += k ? ",[" : "[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ',';
      const auto& row = rows[k][i];
      if (!row) {
        out += "null";
        continue;
      }
      const std::string_view v = member_text(row->values, metric);
      out += fmt::format("[\"{}\",{}]", status_letter(row->status), v.empty() ? std::string_view("null") : v);
    }
    out += ']';
  }
  out += "]});\n";
  write("index.js", out);

  // The chunks: prompts and answers.
  for (size_t first = 0, chunk = 0; first < ids.size(); first += chunk_size, ++chunk) {
    const size_t last = std::min(ids.size(), first + chunk_size);
    out.clear();
    out += fmt::format("kevalSamples.chunk({},{{\"task\":", chunk);
    append_json_string(out, task);
    out += ",\"samples\":[";
    for (size_t i = first; i < last; ++i) {
      out += i > first ? ",{\"id\":" : "{\"id\":";
      append_json_string(out, ids[i]);
      out += ",\"gold\":";
      std::string_view gold = "null";
      for (const auto& r : rows)
        if (r[i]) {
          gold = r[i]->gold;
          break;
        }
      out += gold;
      out += ",\"requests\":[";
      for (size_t t = 0; t < requests[i].size(); ++t) {
        if (t) out += ',';
        out += requests[i][t];
      }
      out += "]}";
    }
    out += "],\"answers\":[";
    for (size_t k = 0; k < runs.size(); ++k) {
      out += k ? ",[" : "[";
      for (size_t i = first; i < last; ++i) {
        if (i > first) out += ',';
        const auto& row = rows[k][i];
        if (!row) {
          out += "null";
          continue;
        }
        out += '[';
        append_json_string(out, row->status);
        out += ',';
        append_json_string(out, row->extracted);
        out += ',';
        if (row->turns.empty()) {
          out += "null";
        } else if (row->turns.size() == 1) {
          out += row->turns[0];
        } else {
          out += '[';
          for (size_t t = 0; t < row->turns.size(); ++t) {
            if (t) out += ',';
            out += row->turns[t];
          }
          out += ']';
        }
        out += ',';
        out += row->values;
        out += ']';
      }
      out += ']';
    }
    out += "]});\n";
    write(fmt::format("{}.js", chunk), out);
  }
  return ids.size();
}

bool Model::comparable(const RunView& run, const std::string& entry) const {
  auto at = entry_at.find(entry);
  if (at == entry_at.end()) return true;
  const Entry& e = entries[at->second];
  if (e.is_group) {
    for (const auto& member : e.members)
      if (!comparable(run, member)) return false;
    return true;
  }
  auto mine = run.task_hashes.find(entry);
  auto usual = usual_hash.find(entry);
  return mine == run.task_hashes.end() || usual == usual_hash.end() || mine->second == usual->second;
}

} // namespace keval::site
