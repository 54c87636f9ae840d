#include "site_pages.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "html.h"
#include "keval_version.h"
#include "metrics.h"
#include "text.h"

namespace keval::site {
namespace {

using html::escape;

struct Column {
  const Entry* entry;
  std::string metric;
};

bool higher_is_better(const std::string& metric) {
  const MetricDefinition* info = find_metric(metric);
  return !info || info->higher_is_better;
}

bool is_proportion_like(const std::string& metric) {
  const MetricDefinition* info = find_metric(metric);
  return info && info->higher_is_better && metric.find("diff") == std::string::npos && metric != "pearson" &&
         metric != "spearman" && metric.rfind("judge_", 0) != 0;
}

const TaskResult* result_of(const RunView& r, const std::string& entry, const std::string& metric) {
  auto e = r.results.find(entry);
  if (e == r.results.end()) return nullptr;
  auto m = e->second.find(metric);
  return m == e->second.end() || !m->second.value ? nullptr : &m->second;
}

std::string fixed(double v, int digits = 3) { return fmt::format("{:.{}f}", v, digits); }

// Competition ranks with statistical ties: 1 + the runs whose interval lies entirely better.
std::vector<int> significance_ranks(const std::vector<const TaskResult*>& cells, bool higher) {
  std::vector<int> ranks(cells.size(), 0);
  for (size_t i = 0; i < cells.size(); ++i) {
    if (!cells[i]) continue;
    const double lo = cells[i]->ci_low.value_or(*cells[i]->value), hi = cells[i]->ci_high.value_or(*cells[i]->value);
    int rank = 1;
    for (size_t j = 0; j < cells.size(); ++j) {
      if (j == i || !cells[j]) continue;
      const double olo = cells[j]->ci_low.value_or(*cells[j]->value), ohi = cells[j]->ci_high.value_or(*cells[j]->value);
      if (higher ? olo > hi : ohi < lo) ++rank;
    }
    ranks[i] = rank;
  }
  return ranks;
}

// A value with its 95% interval; `compact` shows the interval as ± half its width (the exact
// bounds stay in the title and in data-lo / data-hi, which the ranks use).
// `partial`: the value rests on a subset of the samples; not `comparable`: the run evaluated
// other task content than the usual (both marked, said so in the title; the latter never ranked).
std::string score_cell(const TaskResult* r, bool compact, bool partial, bool comparable) {
  if (!r) return "<td class=\"na\">–</td>";
  std::string ci, attrs = fmt::format(" data-v=\"{:.6g}\"", *r->value);
  if (r->ci_low && r->ci_high) {
    attrs += fmt::format(" data-lo=\"{:.6g}\" data-hi=\"{:.6g}\"", *r->ci_low, *r->ci_high);
    ci = compact ? fmt::format("<small>±{}</small>", fixed((*r->ci_high - *r->ci_low) / 2))
                 : fmt::format("<small>[{}, {}]</small>", fixed(*r->ci_low), fixed(*r->ci_high));
  }
  const std::string title = fmt::format("{}{}{}n = {}{}{}{}{}",
                                        comparable ? "" : "other task content (version or data) than the other runs: not comparable, not ranked; ",
                                        partial ? "evaluated on a subset of the samples; " : "",
                                        r->ci_low && r->ci_high ? fmt::format("95% CI [{}, {}], ", fixed(*r->ci_low, 4), fixed(*r->ci_high, 4)) : "",
                                        r->n, r->n_failed ? fmt::format(", {} failed", r->n_failed) : "",
                                        r->n_unparsed ? fmt::format(", {} unparsed", r->n_unparsed) : "",
                                        r->n_judge_failed ? fmt::format(", {} without a judge verdict", r->n_judge_failed) : "",
                                        r->stderr_value ? fmt::format(", stderr {:.4f}", *r->stderr_value) : "");
  std::string classes = partial ? "partial-cell" : "";
  if (!comparable) {
    classes += classes.empty() ? "other-content" : " other-content";
    attrs += " data-unranked=\"1\"";
  }
  return fmt::format("<td{}{} title=\"{}\">{}{}</td>", classes.empty() ? "" : " class=\"" + classes + "\"", attrs, escape(title),
                     fixed(*r->value), ci);
}

std::string metric_label(const Entry& e, const std::string& metric) {
  return e.is_group ? fmt::format("{} ({})", metric, e.aggregation) : metric;
}

std::string task_href(const std::string& task, const std::string& prefix) { return prefix + task_page_path(task); }

std::string run_href(const RunRecord& r, const std::string& prefix) { return prefix + run_page_path(r); }

// `prefix` leads from the page to the site's root ("" or "../"); the page links the site's
// stylesheet and the named scripts of assets/ (relative URLs: the site works opened from disk).
std::string page_head(const std::string& title, const std::string& description, const std::string& prefix) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"keval {}\">\n<meta name=\"description\" content=\"{}\">\n"
      "<title>{}</title>\n<link rel=\"stylesheet\" href=\"{}assets/site.css\">\n</head>\n<body>\n",
      escape(k_version), escape(description), escape(title), prefix);
}

std::string page_tail(const std::string& prefix, const std::vector<std::string>& scripts) {
  std::string out;
  for (const auto& s : scripts) out += fmt::format("<script src=\"{}{}\"></script>\n", escape(prefix), escape(s));
  return out + "</body>\n</html>\n";
}

std::string short_hash(const std::string& h) { return h.substr(0, 12); }

std::string config_value(const nlohmann::json& config, const char* key) {
  if (!config.contains(key) || config.at(key).is_null()) return "default";
  const auto& v = config.at(key);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string seed_of(const RunRecord& r) {
  const auto b = r.config.value("backend", nlohmann::json::object());
  return b.contains("seed") ? b.at("seed").dump() : "–";
}

// ---- the leaderboard table ----

// What a leaderboard table shows in its first column: ranks (full runs ranked among themselves,
// runs on a subset marked and unranked) or, for a table of partial runs only, why each is partial.
enum class FirstColumn { rank, coverage };

std::string coverage_text(const RunView& r) { return text::join(r.partial_reasons, "; "); }

std::string board_table(const Model& m, const std::string& id, const std::vector<const RunView*>& runs,
                        const std::vector<Column>& columns, size_t rank_column, const std::string& prefix, bool compact,
                        FirstColumn first) {
  // Rows start sorted by the ranking column, best first; runs without a value, then partial
  // runs (never ranked with full ones), go last.
  std::vector<const TaskResult*> shown_cells, rank_cells;
  for (const RunView* r : runs) {
    const TaskResult* cell = columns.empty() ? nullptr : result_of(*r, columns[rank_column].entry->name, columns[rank_column].metric);
    shown_cells.push_back(cell);
    rank_cells.push_back(r->partial() || (cell && !m.comparable(*r, columns[rank_column].entry->name)) ? nullptr : cell);
  }
  const bool higher = columns.empty() || higher_is_better(columns[rank_column].metric);
  const std::vector<int> ranks = significance_ranks(rank_cells, higher);
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (runs[a]->partial() != runs[b]->partial()) return !runs[a]->partial();
    if (!shown_cells[a] || !shown_cells[b]) return shown_cells[a] && !shown_cells[b];
    return higher ? *shown_cells[a]->value > *shown_cells[b]->value : *shown_cells[a]->value < *shown_cells[b]->value;
  });

  const size_t first_score = 3;  // rank or coverage, run, model
  std::string out = fmt::format("<div class=\"scroll\"><table id=\"{}\" class=\"sortable board\"{}>\n<thead><tr>", id,
                                first == FirstColumn::rank ? fmt::format(" data-rank-col=\"{}\"", first_score + rank_column) : "");
  out += first == FirstColumn::rank
             ? "<th data-key=\"rank\" data-type=\"num\" title=\"Rank in the sorted score column: 1 + full runs whose 95% "
               "interval lies entirely above (runs on a subset are not ranked)\">Rank</th>"
             : "<th class=\"text\" data-key=\"coverage\" data-type=\"text\" title=\"Why the run covers only a subset of its "
               "samples\">Evaluated on a subset</th>";
  out += "<th class=\"text\" data-key=\"run\" data-type=\"text\">Run</th><th class=\"text\" data-key=\"model\" "
         "data-type=\"text\">Model</th>";
  for (size_t c = 0; c < columns.size(); ++c) {
    const Entry& e = *columns[c].entry;
    const std::string label = e.is_group ? escape(e.name) : fmt::format("<a href=\"{}\">{}</a>", escape(task_href(e.name, prefix)), escape(e.name));
    const std::string title = e.is_group ? fmt::format("group of {}", text::join(e.members, ", ")) : "task: open its sample browser";
    out += fmt::format("<th data-key=\"{}\" data-type=\"num\" data-better=\"{}\" data-label=\"{}\" title=\"{}\"{}>{}<small>{}</small></th>",
                       escape(e.name + ":" + columns[c].metric), higher_is_better(columns[c].metric) ? "high" : "low",
                       escape(e.name + " (" + columns[c].metric + ")"), escape(title),
                       c == rank_column ? fmt::format(" aria-sort=\"{}\"", higher ? "descending" : "ascending") : "", label,
                       escape(metric_label(e, columns[c].metric)));
  }
  out += "</tr></thead>\n<tbody>\n";
  for (size_t i : order) {
    const RunView& r = *runs[i];
    const std::string badge = r.partial() ? fmt::format(" <span class=\"badge partial\" title=\"{}\">subset</span>",
                                                        escape("evaluated on a subset, not ranked: " + coverage_text(r)))
                                          : "";
    out += fmt::format("<tr data-run=\"{}\"{}>", escape(r.run.id), r.partial() ? " class=\"partial\" data-partial=\"1\"" : "");
    if (first == FirstColumn::rank)
      out += fmt::format("<td class=\"rank\" data-v=\"{}\">{}</td>", ranks[i] ? std::to_string(ranks[i]) : "",
                         ranks[i] ? std::to_string(ranks[i]) : "–");
    else
      out += fmt::format("<td class=\"coverage\">{}</td>", escape(coverage_text(r)));
    out += fmt::format("<td class=\"text\"><a href=\"{}\">{}</a>{}<small>{}</small></td><td class=\"text\">{}</td>",
                       escape(run_href(r.run, prefix)), escape(r.run.name), badge, escape(r.run.id),
                       escape(r.run.model.empty() ? r.run.backend : r.run.model));
    for (const auto& col : columns) {
      const TaskResult* cell = result_of(r, col.entry->name, col.metric);
      out += score_cell(cell, compact, cell && m.partial(r, col.entry->name), !cell || m.comparable(r, col.entry->name));
    }
    out += "</tr>\n";
  }
  out += "</tbody></table></div>\n";
  return out;
}

// A horizontal bar per run with its 95% interval as a whisker.
std::string bar_chart(const Entry& e, const std::string& metric, const std::vector<const RunView*>& runs) {
  struct Bar {
    std::string name;
    double v, lo, hi;
  };
  std::vector<Bar> bars;
  for (const RunView* r : runs)
    if (const TaskResult* t = result_of(*r, e.name, metric))
      bars.push_back({r->run.name, *t->value, t->ci_low.value_or(*t->value), t->ci_high.value_or(*t->value)});
  if (bars.empty()) return "";
  const bool higher = higher_is_better(metric);
  std::stable_sort(bars.begin(), bars.end(), [&](const Bar& a, const Bar& b) { return higher ? a.v > b.v : a.v < b.v; });
  // Judge ratings are on 0..10.
  double lo = 0, hi = is_proportion_like(metric) ? 1.0 : metric.rfind("judge_", 0) == 0 ? 10.0 : 0.0;
  for (const auto& b : bars) {
    lo = std::min(lo, b.lo);
    hi = std::max(hi, b.hi);
  }
  if (hi - lo < 1e-9) hi = lo + 1;
  const int label_w = 190, plot_w = 300, value_w = 60, row_h = 18, top = 6;
  const int width = label_w + plot_w + value_w, height = top + row_h * static_cast<int>(bars.size()) + 22;
  auto x = [&](double v) { return label_w + (v - lo) / (hi - lo) * plot_w; };
  std::string svg = fmt::format("<figure><figcaption>{} <small class=\"muted\">{}</small></figcaption>\n"
                                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" "
                                "aria-label=\"{}\" font-size=\"11\" font-family=\"system-ui,sans-serif\">\n",
                                escape(e.name), escape(metric_label(e, metric)), width, height, width, height,
                                escape(e.name + " " + metric));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = top + row_h * static_cast<double>(i);
    std::string name = b.name;
    if (text::char_count(name) > 28) {
      std::vector<char32_t> cps = text::decode(name);
      cps.resize(27);
      name = text::encode(cps) + "…";
    }
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#1d232a\">{}<title>{}</title></text>", label_w - 6,
                       y + 12, escape(name), escape(b.name));
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" fill=\"#7fa9d6\"/>", std::min(x(0), x(b.v)),
                       y + 3, std::abs(x(b.v) - x(0)), row_h - 6);
    svg += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#1d232a\" stroke-width=\"1.2\"/>", x(b.lo),
                       x(b.hi), y + row_h / 2.0, y + row_h / 2.0);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" fill=\"#1d232a\">{}</text>\n", label_w + plot_w + 6, y + 12, fixed(b.v));
  }
  const double axis_y = top + row_h * static_cast<double>(bars.size()) + 4;
  svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#9aa4ae\"/>", label_w, label_w + plot_w, axis_y, axis_y);
  for (int k = 0; k <= 4; ++k) {
    const double v = lo + (hi - lo) * k / 4.0;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#5b6570\">{}</text>", x(v), axis_y + 14,
                       fixed(v, 2));
  }
  return svg + "</svg></figure>\n";
}

// A number cell that sorts by its value; "–" when unknown.
template <typename T>
std::string number_cell(const std::optional<T>& v, const std::string& shown) {
  if (!v) return "<td class=\"na\">–</td>";
  return fmt::format("<td data-v=\"{}\">{}</td>", *v, shown);
}

std::string usage_section(const Model& m, const std::string& prefix) {
  std::string out =
      "<h2 id=\"usage\">Usage, latency and cost</h2>\n"
      "<p class=\"note\">From each run's stored responses: requests sent to the model (answers from the response cache "
      "not counted, and which run they came from in the title), tokens as the server reported them in <code>usage</code>, "
      "latency percentiles of successful answers, cost at the prices the run recorded (<code>--price-in</code>, "
      "<code>--price-out</code>, US dollars per million tokens), and prompt tokens per 1,000 characters of prompts that "
      "hold Hangul: how many tokens the model's tokenizer spends on Korean (lower reads Korean more efficiently).</p>\n"
      "<div class=\"scroll\"><table id=\"usage-table\" class=\"sortable\"><thead><tr>"
      "<th class=\"text\" data-type=\"text\">Run</th><th class=\"text\" data-type=\"text\">Model</th>"
      "<th data-type=\"num\">Requests</th><th data-type=\"num\">Cached</th><th data-type=\"num\">Tokens in</th>"
      "<th data-type=\"num\">Tokens out</th><th data-type=\"num\">Latency p50 (s)</th>"
      "<th data-type=\"num\">Latency p90 (s)</th><th data-type=\"num\">Requests/s</th><th data-type=\"num\">Cost (USD)</th>"
      "<th data-type=\"num\" title=\"prompt tokens / characters of the prompts that hold Hangul × 1,000\">Tokens per "
      "1,000 Korean characters</th></tr></thead>\n<tbody>\n";
  for (const auto& v : m.runs) {
    const RunUsage& u = v.usage;
    std::vector<std::string> sources;
    for (const auto& [run, n] : u.cached_from) sources.push_back(fmt::format("{} from {}", n, run.empty() ? "an unrecorded run" : run));
    const auto cost = cost_usd(v.prices, u.prompt_tokens, u.completion_tokens);
    auto count = [](const std::optional<long long>& n) { return n ? std::to_string(*n) : std::string(); };
    out += fmt::format("<tr><td class=\"text\"><a href=\"{}\">{}</a></td><td class=\"text\">{}</td><td data-v=\"{}\">{}</td>"
                       "<td data-v=\"{}\" title=\"{}\">{}</td>{}{}{}{}{}{}{}</tr>\n",
                       escape(run_href(v.run, prefix)), escape(v.run.name), escape(v.run.model.empty() ? v.run.backend : v.run.model),
                       u.sent, u.sent, u.cached, escape(text::join(sources, ", ")), u.cached,
                       number_cell(u.prompt_tokens, count(u.prompt_tokens)), number_cell(u.completion_tokens, count(u.completion_tokens)),
                       number_cell(u.latency_p50, u.latency_p50 ? fixed(*u.latency_p50) : ""),
                       number_cell(u.latency_p90, u.latency_p90 ? fixed(*u.latency_p90) : ""),
                       number_cell(u.requests_per_second, u.requests_per_second ? fixed(*u.requests_per_second, 2) : ""),
                       number_cell(cost, cost ? fmt::format("{:.4f}", *cost) : ""),
                       number_cell(u.tokens_per_1000_korean_characters,
                                   u.tokens_per_1000_korean_characters ? fixed(*u.tokens_per_1000_korean_characters, 1) : ""));
  }
  return out + "</tbody></table></div>\n";
}

std::string runs_section(const Model& m, const std::string& prefix) {
  std::string out = "<h2 id=\"runs\">Runs and their configuration</h2>\n"
                    "<p class=\"note\">The fingerprint is the run's <code>config_hash</code>: SHA-256 of everything that decides "
                    "its results (tasks with versions and content hashes, backend, model, few-shot, limits, MC mode, keval "
                    "and extractor versions). Equal fingerprints mean the same evaluation.</p>\n"
                    "<div class=\"scroll\"><table id=\"runs-table\" class=\"sortable\"><thead><tr>"
                    "<th class=\"text\" data-type=\"text\">Run</th><th class=\"text\" data-type=\"text\">Id</th>"
                    "<th class=\"text\" data-type=\"text\">Model</th><th class=\"text\" data-type=\"text\">Backend</th>"
                    "<th class=\"text\" data-type=\"text\">Status</th><th class=\"text\" data-type=\"text\">Evaluated on a subset</th>"
                    "<th class=\"text\" data-type=\"text\">Started</th>"
                    "<th class=\"text\" data-type=\"text\">Fingerprint</th><th class=\"text\" data-type=\"text\">keval</th>"
                    "<th class=\"text\" data-type=\"text\">MC mode</th><th class=\"text\" data-type=\"text\">Few-shot</th>"
                    "<th class=\"text\" data-type=\"text\">Limit</th><th class=\"text\" data-type=\"text\">Seed</th>"
                    "<th data-type=\"num\">Tasks</th></tr></thead>\n<tbody>\n";
  for (const auto& v : m.runs) {
    const RunRecord& r = v.run;
    out += fmt::format("<tr{}><td class=\"text\"><a href=\"{}\">{}</a></td><td class=\"text\"><code>{}</code></td>"
                       "<td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"coverage\">{}</td>"
                       "<td class=\"text\">{}</td>"
                       "<td class=\"text\"><code title=\"{}\">{}</code></td><td class=\"text\">{}</td><td class=\"text\">{}</td>"
                       "<td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td data-v=\"{}\">{}</td></tr>\n",
                       v.partial() ? " class=\"partial\"" : "", escape(run_href(r, prefix)), escape(r.name), escape(r.id),
                       escape(r.model.empty() ? "–" : r.model), escape(r.backend), escape(r.status),
                       v.partial() ? escape(coverage_text(v)) : "no: every sample", escape(r.created_at),
                       escape(r.config_hash), escape(short_hash(r.config_hash)), escape(r.keval_version),
                       escape(config_value(r.config, "mc_mode")), escape(config_value(r.config, "num_fewshot")),
                       escape(config_value(r.config, "limit")), escape(seed_of(r)), v.tasks.size(), v.tasks.size());
  }
  return out + "</tbody></table></div>\n";
}

} // namespace

std::string task_page_path(const std::string& task) { return "tasks/" + html::file_name(task) + ".html"; }
std::string run_page_path(const RunRecord& run) { return "runs/" + html::file_name(run.id) + ".html"; }
std::string task_data_dir(const std::string& task) { return "data/" + html::file_name(task); }

std::vector<const RunView*> runs_of(const Model& model, const std::string& task) {
  std::vector<const RunView*> runs;
  for (const auto& v : model.runs)
    if (v.tasks.count(task)) runs.push_back(&v);
  return runs;
}

std::string index_page(const Model& m) {
  std::vector<Column> top, all;
  for (const auto& e : m.entries) {
    if (e.metrics.empty()) continue;
    if (!m.grouped.count(e.name)) top.push_back({&e, e.metrics.front()});
    all.push_back({&e, e.metrics.front()});
  }
  std::vector<const RunView*> runs, full, partial;
  for (const auto& v : m.runs) {
    runs.push_back(&v);
    (v.partial() ? partial : full).push_back(&v);
  }
  // Rank by the column most of `among` have (the first such one).
  auto best_column = [&](const std::vector<Column>& cols, const std::vector<const RunView*>& among) {
    size_t best = 0, best_count = 0;
    for (size_t c = 0; c < cols.size(); ++c) {
      size_t count = 0;
      for (const RunView* r : among) count += result_of(*r, cols[c].entry->name, cols[c].metric) ? 1 : 0;
      if (count > best_count) {
        best = c;
        best_count = count;
      }
    }
    return best;
  };
  std::string out = page_head("keval leaderboard", "Leaderboard of keval runs with 95% intervals", "");
  out += fmt::format("<header><h1>keval leaderboard</h1><div class=\"muted\">{} runs ({} on every sample, {} on a subset) · {} "
                     "tasks and groups · written {} by keval {}</div></header>\n",
                     m.runs.size(), full.size(), partial.size(), m.entries.size(), escape(utc_now_iso8601()), escape(k_version));
  out += "<h2 id=\"leaderboard\">Leaderboard</h2>\n";
  if (m.runs.empty()) {
    out += "<p>This database holds no run yet.</p>\n";
    return out + page_tail("", {});
  }
  out += "<p class=\"note\">Runs evaluated on every sample of their tasks; top-level groups and tasks, each with its headline "
         "metric and 95% interval (small). Click a column header to sort by it. <b>Rank</b> (by <span "
         "id=\"board-rank-by\"></span>): 1 + the number of runs whose 95% interval lies entirely above this run's, so runs "
         "whose intervals overlap share a rank; this is conservative (<code>keval compare</code> runs the paired test). "
         "Groups: <i>macro</i> is the mean of their members, <i>micro</i> weights members by samples. A value marked ≠ "
         "comes from other task content than the other runs': not comparable, not ranked.</p>\n";
  if (full.empty())
    out += "<p id=\"no-full-runs\">No run here was evaluated on every sample of its tasks: nothing is ranked. The runs are "
           "listed below, under <a href=\"#partial\">Runs on a subset</a>.</p>\n";
  else
    out += board_table(m, "board", full, top, best_column(top, full), "", false, FirstColumn::rank);
  if (!partial.empty()) {
    out += "<h2 id=\"partial\">Runs on a subset <span class=\"badge partial\">not ranked</span></h2>\n"
           "<p class=\"note\">These runs evaluated only part of their tasks' samples (<code>--limit</code>, a shard, failed "
           "or missing samples, or a run that did not finish), so their scores are not comparable with full runs and they "
           "are not ranked. A value marked * rests on a subset of the samples.</p>\n";
    out += board_table(m, "partial-board", partial, top, best_column(top, partial), "", false, FirstColumn::coverage);
  }
  if (!full.empty()) {
    std::string charts;
    for (const auto& e : m.entries)
      if (e.is_group && !e.metrics.empty()) charts += bar_chart(e, e.metrics.front(), full);
    if (!charts.empty()) out += "<h2 id=\"charts\">Groups</h2>\n<p class=\"note\">Full runs only.</p>\n<div class=\"charts\">\n" + charts + "</div>\n";
  }
  out += "<h2 id=\"all\">Every task and group</h2>\n<p class=\"note\">The headline metric of every task and group, ± half "
         "its 95% interval; hover a value for the interval, n, failures and the standard error. A task's name opens its "
         "sample browser, which also shows every other metric. Runs on a subset are listed last, marked, and not ranked; a "
         "value marked * rests on a subset of the samples. A value marked ≠ comes from other task content (the task file "
         "or its data changed) than the other runs evaluated: it is not comparable with theirs, and not ranked.</p>\n";
  out += board_table(m, "all-board", runs, all, best_column(all, full.empty() ? runs : full), "", true, FirstColumn::rank);
  out += runs_section(m, "");
  out += usage_section(m, "");
  out += "<p class=\"note\">Every figure comes from the database's stored scores: <code>keval results --run ID</code> prints "
         "the same numbers, <code>keval compare BASE CAND</code> the paired differences with p-values.</p>\n";
  return out + page_tail("", {"assets/table.js", "assets/selftest.js"});
}

std::string run_page(const Model& m, const RunView& v) {
  const RunRecord& r = v.run;
  std::string out = page_head(fmt::format("keval run {}", r.name), "A keval run's configuration", "../");
  out += fmt::format("<header><a href=\"../index.html\">← leaderboard</a><h1>{}</h1><div class=\"muted\">run <code>{}</code> · "
                     "fingerprint <code>{}</code> · {} · {}</div></header>\n",
                     escape(r.name), escape(r.id), escape(r.config_hash), escape(r.status), escape(r.created_at));
  if (v.partial())
    out += fmt::format("<p><span class=\"badge partial\">evaluated on a subset</span> {}: not ranked with full runs.</p>\n",
                       escape(coverage_text(v)));
  out += "<h2>Task versions</h2>\n<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th class=\"text\" data-type=\"text\">Task</th>"
         "<th data-type=\"num\">Version</th><th class=\"text\" data-type=\"text\">Content hash</th><th class=\"text\" "
         "data-type=\"text\">Asked by</th><th data-type=\"num\">Samples</th><th data-type=\"num\">Failed</th>"
         "<th data-type=\"num\">Missing</th></tr></thead><tbody>\n";
  for (const auto& t : r.config.value("tasks", nlohmann::json::array())) {
    const std::string name = t.value("name", "");
    const std::string version = t.contains("version") ? t.at("version").dump() : "";
    Coverage c;
    if (auto it = v.coverage.find(name); it != v.coverage.end()) c = it->second;
    out += fmt::format("<tr{}><td class=\"text\"><a href=\"{}\">{}</a></td><td data-v=\"{}\">{}</td><td class=\"text\"><code>{}</code>"
                       "</td><td class=\"text\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td></tr>\n",
                       m.partial(v, name) ? " class=\"partial\"" : "", escape(task_href(name, "../")), escape(name),
                       escape(version), escape(version), escape(t.value("hash", "")), escape(t.value("mode", "")), c.samples,
                       c.samples, c.failed, c.failed, c.missing, c.missing);
  }
  out += "</tbody></table></div>\n";
  // Usage, and where cached answers came from (a run of this database links to its page).
  out += "<h2 id=\"usage\">Usage</h2>\n<pre>" + escape(format_usage(v.usage, v.prices)) + "</pre>\n";
  if (!v.usage.cached_from.empty()) {
    out += "<p>Answers from the response cache, by the run that stored them:</p>\n<ul>\n";
    for (const auto& [source_run, n] : v.usage.cached_from) {
      const std::string& source = source_run;  // a structured binding cannot be captured before C++20 in clang 14
      auto known = std::find_if(m.runs.begin(), m.runs.end(), [&](const RunView& o) { return o.run.id == source; });
      const std::string who = source.empty() ? "a run not recorded (stored before keval recorded cache sources)"
                              : known == m.runs.end() ? "run " + escape(source) + " (not in this database)"
                                                      : fmt::format("<a href=\"{}\">{}</a> <code>{}</code>", escape(run_href(known->run, "../")),
                                                                    escape(known->run.name), escape(source));
      out += fmt::format("<li>{}: {}</li>\n", n, who);
    }
    out += "</ul>\n";
  }
  out += "<h2>Configuration</h2>\n<pre>" +
         escape(r.config.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) + "</pre>\n";
  return out + page_tail("../", {"assets/table.js"});
}

std::string task_page(const Model& m, const Entry& e, size_t samples) {
  const std::vector<const RunView*> runs = runs_of(m, e.name);
  const std::string metric = e.metrics.empty() ? "acc" : e.metrics.front();
  std::string out = page_head(fmt::format("keval: {}", e.name), "A keval task's results and samples", "../");
  out += fmt::format("<header><a href=\"../index.html\">← leaderboard</a><h1>{}</h1><div class=\"muted\">{} runs · {} samples · "
                     "metrics: {}</div></header>\n",
                     escape(e.name), runs.size(), samples, escape(text::join(e.metrics, ", ")));
  std::vector<Column> columns;
  for (const auto& name : e.metrics) columns.push_back({&e, name});
  out += "<h2>Results</h2>\n" + board_table(m, "board", runs, columns, 0, "../", false, FirstColumn::rank);
  out += "<h2 id=\"samples-heading\">Samples</h2>\n<p class=\"note\">Each sample's prompt as the first run that has it sent it, "
         "then every run's answer (raw), the answer extracted from it and its score, 25 samples a page (read from <code>" +
         escape(task_data_dir(e.name)) + "/</code> as they are shown). Pick two runs and tick the box to see only the samples "
         "they score differently (" + escape(metric) + ").</p>\n";
  out += "<div class=\"controls\"><label>Search <input id=\"search\" type=\"search\" placeholder=\"text or id\"></label>"
         "<label>Run A <select id=\"run-a\"></select></label><label>Run B <select id=\"run-b\"></select></label>"
         "<label><input id=\"only-differ\" type=\"checkbox\"> only where A and B differ</label>"
         "<button id=\"prev\" type=\"button\">← previous</button><button id=\"next\" type=\"button\">next →</button>"
         "<span id=\"page-info\" class=\"muted\"></span><span id=\"samples-status\" class=\"muted\"></span></div>\n";
  out += fmt::format("<div id=\"samples\" data-base=\"../{}\"></div>\n", escape(task_data_dir(e.name)));
  return out + page_tail("../", {"assets/table.js", "assets/samples.js", task_data_dir(e.name) + "/index.js"});
}

} // namespace keval::site
