// `keval run`: evaluate, or continue an interrupted run with --resume.
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "progress.h"
#include "results_table.h"
#include "runner.h"
#include "util/error.h"
#include "util/text.h"

namespace keval::cli {

Action add_run_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string tasks;
    std::string backend;
    std::string model;
    std::vector<std::string> base_urls;
    std::string responses;
    std::string db = k_default_db;
    std::optional<size_t> limit;
    std::optional<int> num_fewshot;
    int concurrency = 16;
    unsigned long long seed = 1234;
    std::string name;
    std::string mc_mode = "auto";
    std::string resume;
    bool json = false;
    bool no_progress = false;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--tasks", o->tasks, "Comma-separated task and group names");
  app.add_option("--backend", o->backend, "random | replay (see `keval run --help`)");
  app.add_option("--model", o->model, "Model name (recorded; sent to HTTP backends)");
  app.add_option("--base-url", o->base_urls, "Server URL (repeatable)");
  app.add_option("--responses", o->responses, "replay: recorded responses (JSON lines)");
  app.add_option("--db", o->db, "SQLite database")->capture_default_str();
  app.add_option("--limit", o->limit, "Evaluate the first N samples of each task");
  app.add_option("--num-fewshot", o->num_fewshot, "Few-shot examples (default: each task's)");
  app.add_option("--concurrency", o->concurrency, "Requests in flight")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--seed", o->seed, "Seed of the random backend")->capture_default_str();
  app.add_option("--name", o->name, "Run name (unique in the database; default: generated)");
  app.add_option("--mc-mode", o->mc_mode, "Multiple choice by loglik, generate, or auto")->capture_default_str();
  app.add_option("--resume", o->resume, "Continue the run with this id or name");
  app.add_flag("--json", o->json, "Print the results as JSON");
  app.add_flag("--no-progress", o->no_progress, "Never draw the progress bar");
  return [o, &global]() {
    bool progress = !o->no_progress && Progress::stderr_is_terminal();
    RunSummary summary;
    if (!o->resume.empty()) {
      if (!o->tasks.empty() || !o->backend.empty())
        throw InputError("--resume continues a stored run with its own tasks and backend; drop --tasks and --backend");
      if (!std::filesystem::exists(o->db)) throw InputError(fmt::format("no keval database at {}", o->db));
      Store store(o->db, false);
      TaskRegistry registry(global.paths());
      summary = Runner(registry, store).resume(o->resume, progress);
    } else {
      if (o->tasks.empty()) throw InputError("--tasks is required (task and group names; `keval tasks` lists them)");
      if (o->backend.empty()) throw InputError("--backend is required (random, replay)");
      TaskRegistry registry(global.paths());
      RunOptions options;
      options.tasks = text::split(o->tasks, ',');
      options.backend.kind = o->backend;
      options.backend.model = o->model;
      options.backend.base_urls = o->base_urls;
      options.backend.responses_file = o->responses;
      options.backend.seed = o->seed;
      options.backend.concurrency = o->concurrency;
      options.limit = o->limit;
      options.num_fewshot = o->num_fewshot;
      options.mc_mode = o->mc_mode;
      options.name = o->name;
      options.show_progress = progress;
      // Check everything that can be checked before the database is touched.
      registry.resolve(options.tasks);
      make_backend(options.backend);
      auto parent = std::filesystem::path(o->db).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
      Store store(o->db, true);
      summary = Runner(registry, store).start(options);
    }
    if (o->json) {
      fmt::print("{}\n", results_json(summary.run, summary.results).dump(2));
    } else {
      fmt::print("{}", format_results_table(summary.run, summary.results));
      if (summary.n_failed)
        fmt::print("{} samples failed (not scored); `keval run --resume {} --db {}` retries them\n", summary.n_failed,
                   summary.run.id, o->db);
      fmt::print("run id: {}\n", summary.run.id);
    }
    return 0;
  };
}

} // namespace keval::cli
