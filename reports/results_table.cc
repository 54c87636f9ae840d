#include "results_table.h"

#include <fmt/format.h>

#include "metrics.h"
#include "text.h"

namespace keval {
namespace {

std::string number(const std::optional<double>& v, int digits = 4) {
  return v ? fmt::format("{:.{}f}", *v, digits) : "-";
}

nlohmann::json optional_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

// Terminal columns: Hangul and other East Asian wide characters take two.
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (char32_t c : text::decode(s)) {
    const bool wide = (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
                      (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6);
    n += wide ? 2 : 1;
  }
  return n;
}

// Pads to a width counted in terminal columns, so Hangul names line up.
std::string pad(const std::string& s, size_t width) {
  size_t n = display_width(s);
  return n >= width ? s : s + std::string(width - n, ' ');
}

// The samples of the run's task a result stands for: scored, failed and judge-failed together.
long long run_samples(const TaskResult& r) { return r.n + r.n_failed + r.n_judge_failed; }

// A headline over fewer than all of the task's samples in the run (some failed) is marked, so
// that an accuracy over 5 of 1,000 samples is not read as the task's.
bool is_partial(const TaskResult& r) { return r.n < run_samples(r); }

} // namespace

std::string format_results_table(const RunRecord& run, const std::vector<TaskResult>& results) {
  std::string out = fmt::format("run {}  name {}  backend {}{}  status {}\n", run.id, run.name, run.backend,
                                run.model.empty() ? "" : "  model " + run.model, run.status);
  size_t width = 4, metric_width = 24;
  bool judged = false;  // the judge-failure column only shows when some sample's judge failed
  for (const auto& r : results) {
    width = std::max(width, display_width(r.task) + (r.is_group ? 2 : 0));
    metric_width = std::max(metric_width, display_width(r.metric) + (r.is_group ? r.aggregation.size() + 3 : 0));
    judged = judged || r.n_judge_failed > 0;
  }
  width = std::min<size_t>(width, 48);
  metric_width = std::min<size_t>(metric_width, 48);
  bool partial = false;
  for (const auto& r : results) partial = partial || is_partial(r);
  if (run.config.contains("limit") && !run.config.at("limit").is_null())
    out += fmt::format("subset: the first {} samples of each task (--limit); not comparable with full runs\n",
                       run.config.at("limit").dump());
  out += fmt::format("{} {} {:>8} {:>8}  {:<17} {:>6} {:>6} {:>8}{}{}\n", pad("task", width), pad("metric", metric_width),
                     "value", "stderr", "95% CI", "n", "failed", "unparsed", judged ? "  judge failed" : "",
                     partial ? "  coverage" : "");
  for (const auto& r : results) {
    std::string name = r.is_group ? "* " + r.task : r.task;
    std::string ci = r.ci_low && r.ci_high ? fmt::format("[{:.4f}, {:.4f}]", *r.ci_low, *r.ci_high) : "-";
    std::string metric = r.is_group ? fmt::format("{} ({})", r.metric, r.aggregation) : r.metric;
    std::string coverage;
    if (is_partial(r))
      coverage = fmt::format("  partial: {} of {} ({:.1f}%)", r.n, run_samples(r),
                             100.0 * static_cast<double>(r.n) / static_cast<double>(run_samples(r)));
    out += fmt::format("{} {} {:>8} {:>8}  {:<17} {:>6} {:>6} {:>8}{}{}\n", pad(name, width), pad(metric, metric_width),
                       number(r.value), number(r.stderr_value), ci, r.n, r.n_failed, r.n_unparsed,
                       judged ? fmt::format(" {:>13}", r.n_judge_failed) : "", coverage);
  }
  if (partial)
    out += "partial: the value is over the scored samples only; failed ones (no usable answer) are left out\n";
  bool any_group = false;
  for (const auto& r : results) any_group = any_group || r.is_group;
  if (any_group) out += "* group: macro = mean of its members, micro = weighted by samples\n";
  for (const auto& r : results)
    if (!r.value && !r.undefined_reason.empty())
      out += fmt::format("{} {}: no value ({})\n", r.task, r.metric, r.undefined_reason);
  return out;
}

nlohmann::json run_json(const RunRecord& run) {
  return {{"id", run.id},           {"name", run.name},         {"model", run.model},
          {"backend", run.backend}, {"status", run.status},     {"created_at", run.created_at},
          {"finished_at", run.finished_at}, {"config_hash", run.config_hash}, {"keval_version", run.keval_version},
          {"task_versions", run.task_versions}};
}

nlohmann::json results_json(const RunRecord& run, const std::vector<TaskResult>& results) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json j = {{"task", r.task},
                        {"metric", r.metric},
                        {"value", optional_json(r.value)},
                        {"stderr", optional_json(r.stderr_value)},
                        {"ci_low", optional_json(r.ci_low)},
                        {"ci_high", optional_json(r.ci_high)},
                        {"n", r.n},
                        {"n_failed", r.n_failed},
                        {"n_unparsed", r.n_unparsed},
                        {"n_judge_failed", r.n_judge_failed},
                        {"n_samples", run_samples(r)},
                        {"partial", is_partial(r)}};
    if (!r.value && !r.undefined_reason.empty()) j["undefined_reason"] = r.undefined_reason;
    if (r.is_group) {
      j["group"] = true;
      j["aggregation"] = r.aggregation;
    }
    tasks.push_back(std::move(j));
  }
  return {{"run", run_json(run)}, {"tasks", std::move(tasks)}};
}

void explain_undefined_values(Store& store, const RunRecord& run, std::vector<TaskResult>& results) {
  for (auto& r : results) {
    if (r.value || r.is_group) continue;
    // As compute_results aggregates: failed and judge-failed samples are left out.
    std::vector<SampleScore> scored;
    store.for_each_score(run.id, r.task, [&](StoredScore&& s) {
      if (s.status != "failed" && s.status != "judge_failed") scored.push_back(SampleScore::from_json(s.score));
    });
    r.undefined_reason = why_undefined(r.metric.substr(0, r.metric.find('/')), scored).value_or("");
  }
}

// Columns as wide as their widest value (Hangul counted as two), so long names never shift the
// columns after them.
std::string format_runs_table(const std::vector<RunRecord>& runs) {
  const std::vector<std::string> header = {"id", "name", "model", "backend", "started", "status"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : runs) rows.push_back({r.id, r.name, r.model.empty() ? "-" : r.model, r.backend, r.created_at, r.status});
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = display_width(header[c]);
    for (const auto& row : rows) width[c] = std::max(width[c], display_width(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) out += c + 1 == cells.size() ? cells[c] : pad(cells[c], width[c]) + "  ";
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

} // namespace keval
