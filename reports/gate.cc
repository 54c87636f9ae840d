#include "gate.h"

#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "html.h"
#include "error.h"
#include "text.h"
#include "yaml_file.h"

namespace keval {
namespace {

std::string did_you_mean(const std::string& name, const std::vector<std::string>& known) {
  const auto near = text::closest(name, known);
  return near.empty() ? std::string() : fmt::format("; did you mean '{}'?", near.front());
}

int line_of(const YAML::Node& node) { return node.Mark().line + 1; }

double number_at(const YAML::Node& node, const std::string& path, const std::string& key) {
  if (!node.IsScalar()) throw InputError(fmt::format("{}:{}: '{}' must be a number", path, line_of(node), key));
  try {
    const double v = node.as<double>();
    if (!std::isfinite(v)) throw YAML::BadConversion(node.Mark());
    return v;
  } catch (const YAML::BadConversion&) {
    throw InputError(fmt::format("{}:{}: '{}' must be a number, not '{}'", path, line_of(node), key, node.Scalar()));
  }
}

double alpha_at(const YAML::Node& node, const std::string& path) {
  const double a = number_at(node, path, "alpha");
  if (!(a > 0 && a <= 0.5))
    throw InputError(fmt::format("{}:{}: 'alpha' must be in (0, 0.5], not {}", path, line_of(node), node.Scalar()));
  return a;
}

std::string where(const GateConfig& config, const GateRule& rule) {
  if (rule.line == 0) return fmt::format("default gate rule for '{}'", rule.task);
  return fmt::format("{}:{}", config.path, rule.line);
}

std::string number(const std::optional<double>& v, int digits = 4) {
  return v ? fmt::format("{:.{}f}", *v, digits) : "-";
}

std::string signed_number(const std::optional<double>& v, int digits = 4) {
  return v ? fmt::format("{:+.{}f}", *v, digits) : "-";
}

std::string rule_name(const GateRule& r) { return fmt::format("{} {}", r.task, r.metric); }

std::string run_label(const RunRecord& r) { return fmt::format("{} ({})", r.name, r.id); }

} // namespace

GateConfig load_gate_config(const std::string& path) {
  GateConfig config;
  config.path = path;
  const YAML::Node root = load_yaml_file(path, path, "gate file");
  if (!root.IsMap()) throw InputError(fmt::format("{}:1: a gate file is a mapping with 'alpha' and 'rules'", path));
  static const std::vector<std::string> k_top = {"alpha", "rules"};
  static const std::vector<std::string> k_rule = {"task", "metric", "max_drop", "min_value", "alpha"};
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (std::find(k_top.begin(), k_top.end(), key) == k_top.end())
      throw InputError(fmt::format("{}:{}: unknown key '{}'{} (allowed: alpha, rules)", path, line_of(it->first), key,
                                   did_you_mean(key, k_top)));
  }
  if (root["alpha"]) config.alpha = alpha_at(root["alpha"], path);
  const YAML::Node rules = root["rules"];
  if (!rules) throw InputError(fmt::format("{}:1: missing required key 'rules'", path));
  if (!rules.IsSequence() || rules.size() == 0)
    throw InputError(fmt::format("{}:{}: 'rules' must be a non-empty list of rules", path, line_of(rules)));
  for (const auto& node : rules) {
    GateRule rule;
    rule.line = line_of(node);
    rule.alpha = config.alpha;
    if (!node.IsMap())
      throw InputError(fmt::format("{}:{}: a rule is a mapping (task, metric, max_drop, min_value, alpha)", path, rule.line));
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (std::find(k_rule.begin(), k_rule.end(), key) == k_rule.end())
        throw InputError(fmt::format("{}:{}: unknown key '{}' in a rule{} (allowed: {})", path, line_of(it->first), key,
                                     did_you_mean(key, k_rule), text::join(k_rule, ", ")));
    }
    if (!node["task"]) throw InputError(fmt::format("{}:{}: a rule needs 'task' (a task or group name)", path, rule.line));
    if (!node["task"].IsScalar() || node["task"].Scalar().empty())
      throw InputError(fmt::format("{}:{}: 'task' must be a task or group name", path, line_of(node["task"])));
    rule.task = node["task"].Scalar();
    if (node["metric"]) {
      if (!node["metric"].IsScalar() || node["metric"].Scalar().empty())
        throw InputError(fmt::format("{}:{}: 'metric' must be a metric name", path, line_of(node["metric"])));
      rule.metric = node["metric"].Scalar();
    }
    if (node["max_drop"]) {
      rule.max_drop = number_at(node["max_drop"], path, "max_drop");
      if (rule.max_drop < 0)
        throw InputError(fmt::format("{}:{}: 'max_drop' is a drop and must be >= 0 (0.01 allows one point)", path,
                                     line_of(node["max_drop"])));
    }
    if (node["min_value"]) rule.min_value = number_at(node["min_value"], path, "min_value");
    if (node["alpha"]) rule.alpha = alpha_at(node["alpha"], path);
    config.rules.push_back(rule);
  }
  return config;
}

GateConfig default_gate_config(const Comparison& comparison) {
  GateConfig config;
  config.path = "(default rules)";
  std::set<std::string> members;
  for (const auto& g : comparison.base.config.value("groups", nlohmann::json::array()))
    for (const auto& m : g.value("members", std::vector<std::string>{})) members.insert(m);
  std::set<std::string> seen;
  for (const auto& row : comparison.rows) {
    if (members.count(row.task) || seen.count(row.task)) continue;
    seen.insert(row.task);
    GateRule rule;
    rule.task = row.task;
    rule.metric = row.metric;
    config.rules.push_back(rule);
  }
  const double alpha = config.rules.empty() ? config.alpha : config.alpha / static_cast<double>(config.rules.size());
  for (auto& r : config.rules) r.alpha = alpha;
  return config;
}

GateReport evaluate_gate(const Comparison& comparison, const GateConfig& config,
                         const std::vector<TaskResult>& cand_results) {
  GateReport report;
  report.comparison = comparison;
  std::vector<std::string> known;
  std::set<std::string> compared;
  for (const auto& r : comparison.rows)
    if (compared.insert(r.task).second) known.push_back(r.task);
  for (GateRule rule : config.rules) {
    if (!compared.count(rule.task)) {
      // A task or a group, in one run's configuration.
      auto has = [&](const RunRecord& run) {
        for (const char* list : {"tasks", "groups"})
          for (const auto& t : run.config.value(list, nlohmann::json::array()))
            if (t.value("name", "") == rule.task) return true;
        return false;
      };
      const bool in_base = has(comparison.base), in_cand = has(comparison.cand);
      std::string which = in_base && in_cand ? "the runs share no metric of it"
                          : in_base          ? "only the baseline ran it"
                          : in_cand          ? "only the candidate ran it"
                                             : "neither run has it";
      throw InputError(fmt::format("{}: task '{}' cannot be compared: {}{}", where(config, rule), rule.task, which,
                                   did_you_mean(rule.task, known)));
    }
    std::vector<std::string> metrics;
    for (const auto& r : comparison.rows)
      if (r.task == rule.task) metrics.push_back(r.metric);
    if (rule.metric.empty()) rule.metric = metrics.front();
    const ComparisonRow* row = comparison.find(rule.task, rule.metric);
    if (!row)
      throw InputError(fmt::format("{}: task '{}' has no metric '{}' in both runs{} (it has: {})", where(config, rule),
                                   rule.task, rule.metric, did_you_mean(rule.metric, metrics), text::join(metrics, ", ")));
    if (row->n_paired == 0)
      throw InputError(fmt::format("{}: the runs share no scored sample of '{}'", where(config, rule), rule.task));
    RuleOutcome o;
    o.rule = rule;
    o.n_paired = row->n_paired;
    o.base = row->base;
    o.cand = row->cand;
    o.diff = row->diff;
    for (const auto& r : cand_results)
      if (r.task == rule.task && r.metric == rule.metric) o.cand_value = r.value;
    if (!o.cand_value) o.cand_value = row->cand;
    if (!row->diff) {
      o.passed = false;
      o.reasons.push_back(fmt::format("{} is undefined on the paired samples", rule.metric));
    } else {
      o.upper_bound = stats::percentile(row->replicates, 1 - rule.alpha);
      o.p_value = stats::fraction_at_least(row->replicates, -rule.max_drop);
      if (!o.upper_bound) o.upper_bound = row->diff;  // no defined replicate: the point estimate
      if (*o.upper_bound < -rule.max_drop) {
        o.passed = false;
        o.reasons.push_back(fmt::format(
            "regression: {} fell by {:.4f} ({:.4f} -> {:.4f}); the one-sided {:.0f}% upper bound of the change, {:+.4f}, "
            "is below -max_drop = {:+.4f}",
            rule.metric, -*row->diff, *row->base, *row->cand, 100 * (1 - rule.alpha), *o.upper_bound, -rule.max_drop));
      }
    }
    if (rule.min_value && (!o.cand_value || *o.cand_value < *rule.min_value)) {
      o.passed = false;
      o.reasons.push_back(fmt::format("below the floor: {} = {} < min_value {:.4f}", rule.metric, number(o.cand_value),
                                      *rule.min_value));
    }
    report.passed = report.passed && o.passed;
    report.outcomes.push_back(std::move(o));
  }
  return report;
}

std::string format_gate_table(const GateReport& report) {
  const Comparison& c = report.comparison;
  std::string out = fmt::format("gate: baseline {} vs candidate {}\n", run_label(c.base), run_label(c.cand));
  for (const auto& w : c.warnings) out += fmt::format("warning: configurations differ: {}\n", w);
  size_t width = 4;
  for (const auto& o : report.outcomes) width = std::max(width, text::char_count(rule_name(o.rule)));
  width = std::min<size_t>(width, 56);
  auto pad = [](const std::string& s, size_t w) {
    size_t n = text::char_count(s);
    return n >= w ? s : s + std::string(w - n, ' ');
  };
  out += fmt::format("{}  {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>6} {:>9}  {}\n", pad("rule", width), "n", "base", "cand",
                     "diff", "bound", "max_drop", "alpha", "min_value", "result");
  for (const auto& o : report.outcomes)
    out += fmt::format("{}  {:>6} {:>8} {:>8} {:>8} {:>9} {:>8.4f} {:>6.4f} {:>9}  {}\n", pad(rule_name(o.rule), width),
                       o.n_paired, number(o.base), number(o.cand), signed_number(o.diff), signed_number(o.upper_bound),
                       o.rule.max_drop, o.rule.alpha, number(o.rule.min_value), o.passed ? "pass" : "FAIL");
  for (const auto& o : report.outcomes)
    for (const auto& reason : o.reasons) out += fmt::format("FAIL {}: {}\n", rule_name(o.rule), reason);
  size_t failed = 0;
  for (const auto& o : report.outcomes) failed += o.passed ? 0 : 1;
  out += fmt::format("bound: one-sided (1 − alpha) upper bound of diff = cand − base (paired bootstrap, {} resamples); a "
                     "rule fails when bound < −max_drop or the candidate is below min_value\n",
                     c.resamples);
  out += report.passed ? fmt::format("gate passed: {} rules\n", report.outcomes.size())
                       : fmt::format("gate failed: {} of {} rules\n", failed, report.outcomes.size());
  return out;
}

std::string gate_markdown(const GateReport& report) {
  const Comparison& c = report.comparison;
  // Markdown tables break on '|' and newlines; names also go through HTML escaping because PR
  // comments render inline HTML.
  auto cell = [](const std::string& s) {
    std::string out = html::escape(s);
    out = text::replace_all(out, "|", "\\|");
    out = text::replace_all(out, "\n", " ");
    return out;
  };
  size_t failed = 0;
  for (const auto& o : report.outcomes) failed += o.passed ? 0 : 1;
  std::string out = fmt::format("### keval gate: {}\n\n", report.passed ? "passed" : fmt::format("**failed** ({} of {} rules)", failed, report.outcomes.size()));
  out += fmt::format("Baseline `{}` (`{}`, config `{}`) → candidate `{}` (`{}`, config `{}`)\n\n", cell(c.base.name),
                     c.base.id, c.base.config_hash.substr(0, 12), cell(c.cand.name), c.cand.id,
                     c.cand.config_hash.substr(0, 12));
  for (const auto& w : c.warnings) out += fmt::format("> **Warning**: configurations differ: {}\n", cell(w));
  if (!c.warnings.empty()) out += "\n";
  out += "| | rule | n | baseline | candidate | change | bound | max drop | min value |\n";
  out += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& o : report.outcomes)
    out += fmt::format("| {} | {} `{}` | {} | {} | {} | {} | {} | {:.4f} | {} |\n", o.passed ? "pass" : "**FAIL**",
                       cell(o.rule.task), cell(o.rule.metric), o.n_paired, number(o.base), number(o.cand),
                       signed_number(o.diff), signed_number(o.upper_bound), o.rule.max_drop, number(o.rule.min_value));
  out += "\n";
  for (const auto& o : report.outcomes)
    for (const auto& reason : o.reasons) out += fmt::format("- **{}**: {}\n", cell(rule_name(o.rule)), cell(reason));
  out += fmt::format("\n<sub>change = candidate − baseline on the samples both runs scored; bound = one-sided (1 − alpha) "
                     "upper confidence bound of the change (paired bootstrap, {} resamples). A rule fails when the bound is "
                     "below −max drop (significantly worse than the margin) or the candidate is below its floor.</sub>\n",
                     c.resamples);
  return out;
}

std::string gate_junit(const GateReport& report) {
  const Comparison& c = report.comparison;
  size_t failed = 0;
  for (const auto& o : report.outcomes) failed += o.passed ? 0 : 1;
  const std::string suite = html::xml_escape(fmt::format("keval gate: {} vs {}", run_label(c.cand), run_label(c.base)));
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"keval gate\" tests=\"{}\" failures=\"{}\" errors=\"0\">\n", report.outcomes.size(), failed);
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">\n", suite,
                     report.outcomes.size(), failed);
  for (const auto& o : report.outcomes) {
    const std::string numbers = fmt::format(
        "n_paired={} baseline={} candidate={} diff={} upper_bound={} alpha={} max_drop={} min_value={} candidate_value={} "
        "p_one_sided={}",
        o.n_paired, number(o.base), number(o.cand), signed_number(o.diff), signed_number(o.upper_bound), o.rule.alpha,
        o.rule.max_drop, number(o.rule.min_value), number(o.cand_value), number(o.p_value));
    out += fmt::format("    <testcase classname=\"keval.gate\" name=\"{}\" time=\"0\">\n", html::xml_escape(rule_name(o.rule)));
    if (!o.passed)
      out += fmt::format("      <failure type=\"regression\" message=\"{}\">{}</failure>\n",
                         html::xml_escape(text::join(o.reasons, "; ")), html::xml_escape(numbers));
    out += fmt::format("      <system-out>{}</system-out>\n", html::xml_escape(numbers));
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

} // namespace keval
