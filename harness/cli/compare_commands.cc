// `keval compare`, `keval gate` and `keval report`: read a database, never write it.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "commands.h"
#include "compare.h"
#include "run_reference.h"
#include "gate.h"
#include "site.h"
#include "store.h"
#include "error.h"
#include "text.h"

namespace keval::cli {
namespace {

Store open_database(const std::string& db) {
  if (!std::filesystem::exists(db)) throw InputError(fmt::format("no keval database at {}", db));
  return Store(db, StoreAccess::read_only);
}

void write_text(const std::string& path, const std::string& content, const char* what) {
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::ofstream out(path, std::ios::binary);
  out << content;
  out.close();
  if (!out) throw InputError(fmt::format("{}: cannot write the {} file", path, what));
}

} // namespace

Action add_compare_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string db = k_default_db;
    std::vector<std::string> runs;
    std::string base;
    std::string cand;
    bool json = false;
    int resamples = 2000;
    unsigned long long seed = 20240601;
  };
  auto o = std::make_shared<Options>();
  app.add_option("RUNS", o->runs, "BASE CAND: the baseline and the candidate run (id, name or latest)");
  app.add_option("--baseline", o->base, "Baseline run (instead of the first positional)");
  app.add_option("--candidate", o->cand, "Candidate run (instead of the second positional)");
  app.add_option("--db", o->db, "SQLite database")->capture_default_str();
  app.add_flag("--json", o->json, "Print JSON");
  app.add_option("--resamples", o->resamples, "Bootstrap resamples and permutations")
      ->capture_default_str()
      ->check(CLI::Range(1000, 100000));
  app.add_option("--seed", o->seed, "Seed of the resampling")->capture_default_str();
  return [o]() {
    const std::string usage = "give `keval compare BASE CAND` or `keval compare --baseline BASE --candidate CAND`";
    fail_if_missing(assign_runs(o->runs, {{"--baseline (BASE)", &o->base}, {"--candidate (CAND)", &o->cand}}, usage), usage);
    Store store = open_database(o->db);
    RunRecord base = find_run_or_fail(store, o->base, "--baseline");
    RunRecord cand = find_run_or_fail(store, o->cand, "--candidate");
    CompareOptions options;
    options.resamples = o->resamples;
    options.seed = o->seed;
    Comparison c = compare_runs(store, base, cand, options);
    if (o->json) fmt::print("{}\n", comparison_json(c).dump(2));
    else fmt::print("{}", format_comparison(c));
    for (const auto& w : c.warnings)
      if (o->json) fmt::print(stderr, "keval: warning: configurations differ: {}\n", w);
    return 0;
  };
}

Action add_gate_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string db = k_default_db;
    std::vector<std::string> runs;
    std::string base;
    std::string cand;
    std::string config;
    std::string junit;
    std::string markdown;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--db", o->db, "SQLite database")->capture_default_str();
  app.add_option("RUNS", o->runs, "BASE CAND: the baseline and the candidate run (id, name or latest)");
  app.add_option("--baseline", o->base, "Baseline run (instead of the first positional)");
  app.add_option("--candidate", o->cand, "Candidate run (instead of the second positional)");
  app.add_option("--config", o->config,
                 "Gate file (YAML: alpha, rules of task, metric, max_drop, min_value); default: every top-level task "
                 "and group, max_drop 0, alpha 0.05 split across the rules");
  app.add_option("--junit", o->junit, "Write a JUnit XML report (one testcase per rule)");
  app.add_option("--markdown", o->markdown, "Write a Markdown summary (for a pull-request comment)");
  return [o]() {
    const std::string usage = "give `keval gate BASE CAND` or `keval gate --baseline BASE --candidate CAND`";
    fail_if_missing(assign_runs(o->runs, {{"--baseline (BASE)", &o->base}, {"--candidate (CAND)", &o->cand}}, usage), usage);
    // The gate file is read first: a malformed file is an error whatever the database holds.
    std::optional<GateConfig> config;
    if (!o->config.empty()) config = load_gate_config(o->config);
    Store store = open_database(o->db);
    RunRecord base = find_run_or_fail(store, o->base, "--baseline");
    RunRecord cand = find_run_or_fail(store, o->cand, "--candidate");
    Comparison c = compare_runs(store, base, cand);
    if (!config) config = default_gate_config(c);
    GateReport report = evaluate_gate(c, *config, store.load_task_results(cand.id));
    fmt::print("{}", format_gate_table(report));
    if (!o->junit.empty()) write_text(o->junit, gate_junit(report), "JUnit");
    if (!o->markdown.empty()) write_text(o->markdown, gate_markdown(report), "Markdown");
    return report.passed ? 0 : 1;
  };
}

Action add_report_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string db = k_default_db;
    std::string out;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--db", o->db, "SQLite database")->capture_default_str();
  app.add_option("--out", o->out, "Output directory (index.html, tasks/, runs/); default: site/ beside the database");
  return [o]() {
    Store store = open_database(o->db);
    // Beside the database, so that results/keval.db gives results/site as the demo does.
    if (o->out.empty()) o->out = (std::filesystem::path(o->db).parent_path() / "site").string();
    SiteSummary summary = write_site(store, o->out);
    fmt::print("wrote {} ({} runs, {} task pages, {:.1f} MB)\n", (std::filesystem::path(o->out) / "index.html").string(),
               summary.runs, summary.task_pages, static_cast<double>(summary.bytes) / 1e6);
    return 0;
  };
}

} // namespace keval::cli
