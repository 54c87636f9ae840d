// `keval run`: evaluate, or continue an interrupted run with --resume.
#include <filesystem>

#include <fmt/format.h>

#include "backend_flags.h"
#include "backend_requirements.h"
#include "commands.h"
#include "progress.h"
#include "results_table.h"
#include "run_reference.h"
#include "run_outcome.h"
#include "runner.h"
#include "shard.h"
#include "error.h"
#include "text.h"

namespace keval::cli {
namespace {

// The plan as a table: what each task will send, and the run's totals.
std::string format_plan(const RunPlan& plan) {
  const nlohmann::json j = plan.to_json();
  std::string out = fmt::format("plan (nothing sent): run key {}", plan.run_key.substr(0, 16));
  if (j.contains("shard")) out += fmt::format(", shard {}/{}", j["shard"]["index"].get<size_t>(), j["shard"]["count"].get<size_t>());
  out += "\n";
  size_t width = 4;
  for (const auto& t : plan.tasks) width = std::max(width, t.name.size());
  out += fmt::format("{:<{}}  {:<8} {:>8} {:>9} {:>5} {:>9} {:>12}\n", "task", width, "mode", "samples", "requests", "turns",
                     "judge", "characters");
  for (const auto& t : plan.tasks)
    out += fmt::format("{:<{}}  {:<8} {:>8} {:>9} {:>5} {:>9} {:>12}\n", t.name, width, t.mode, t.samples, t.requests,
                       t.max_turns, t.judge_requests, t.characters);
  const auto& total = j.at("total");
  out += fmt::format("{:<{}}  {:<8} {:>8} {:>9} {:>5} {:>9} {:>12}\n", "total", width, "", total["samples"].get<size_t>(),
                     total["requests"].get<size_t>(), "", total["judge_requests"].get<size_t>(),
                     total["characters"].get<size_t>());
  out += "requests: one a sample (a turn for dialogue); a judge request is asked again when its verdict is unreadable; "
         "characters: prompts as sent (a dialogue's later turns also carry the model's own answers)\n";
  if (j.contains("estimated_cost")) out += format_estimated_cost(j.at("estimated_cost"));
  return out;
}

} // namespace

Action add_run_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string tasks;
    BackendConfig backend;   // defaults: run_config.h
    BackendConfig judge;     // the judge of dialogue tasks
    std::string db = k_default_db;
    std::optional<long long> limit;
    std::optional<int> num_fewshot;
    std::int64_t fewshot_seed = RunConfig{}.fewshot_seed;
    std::string name;
    std::string mc_mode = RunConfig{}.mc_mode;
    std::string resume;
    bool json = false;
    bool no_progress = false;
    bool dry_run = false;
    std::string shard;
    std::optional<size_t> shard_count;
    std::string max_failures;
    bool keep_think = false;
    bool no_cache = false;
    std::optional<double> price_in, price_out;  // USD per million tokens
  };
  auto o = std::make_shared<Options>();
  app.add_option("--tasks,--task", o->tasks, "Comma-separated task, group and suite names (`keval tasks` lists them)");
  add_backend_flags(app, o->backend, BackendRole::model);
  app.add_option("--db", o->db, "SQLite database")->capture_default_str();
  app.add_option("--limit", o->limit, "Evaluate the first N samples of each task (N >= 1)");
  app.add_option("--num-fewshot", o->num_fewshot, "Few-shot examples (default: each task's)");
  CLI::Option* fewshot_seed_option =
      app.add_option("--fewshot-seed", o->fewshot_seed, "Seed of each task's few-shot draw (lm-evaluation-harness: 1234)")
          ->capture_default_str();
  add_execution_flags(app, o->backend, BackendRole::model);
  add_model_overrides(app, o->backend);
  app.add_option("--name", o->name, "Run name (unique in the database; default: generated)");
  app.add_option("--mc-mode", o->mc_mode, "Multiple choice by loglik, generate, or auto")->capture_default_str();
  app.add_option("--resume", o->resume, "Continue the run with this id or name (or latest)");
  app.add_option("--max-failures", o->max_failures,
                 "Stop the run (exit 1, status aborted) past N failed requests, or N% of the run's requests");
  app.add_flag("--keep-think", o->keep_think, "Score <think>…</think> blocks too (by default they are removed before scoring)");
  app.add_flag("--no-cache", o->no_cache, "Send every request, even one whose response the database has cached");
  const std::vector<CLI::Option*> judge_options = add_backend_flags(app, o->judge, BackendRole::judge);
  app.add_option("--price-in", o->price_in, "USD per million prompt tokens: recorded with the run, gives its cost")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--price-out", o->price_out, "USD per million completion tokens: recorded with the run, gives its cost")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", o->json, "Print the results as JSON");
  app.add_flag("--no-progress", o->no_progress, "Never draw the progress bar");
  app.add_flag("--dry-run", o->dry_run, "Print the run's plan (tasks, requests, judge requests, characters) and send nothing");
  app.add_option("--shard", o->shard,
                 "Evaluate shard I (0-based) of N of the run's samples: I/N, or auto (Slurm array job, Kubernetes "
                 "Indexed Job); `keval merge` joins the shards' databases");
  app.add_option("--shard-count", o->shard_count, "Shards in all, for --shard auto in a Kubernetes Indexed Job")
      ->check(CLI::Range(1, 1 << 20));
  app.footer(backend_kinds_help(BackendRole::model));
  return [o, &global, fewshot_seed_option, judge_options]() {
    if (o->limit && *o->limit < 1)
      throw InputError(fmt::format("--limit {}: give 1 or more samples per task (leave --limit out for every sample)", *o->limit));
    bool progress = !o->no_progress && Progress::stderr_is_terminal();
    RunSummary summary;
    std::optional<Store> store;
    if (!o->resume.empty()) {
      if (o->dry_run || !o->shard.empty())
        throw InputError("--resume continues a stored run as it was planned; drop --dry-run and --shard");
      if (!o->tasks.empty() || !o->backend.kind.empty())
        throw InputError("--resume continues a stored run with its own tasks and backend; drop --tasks and --backend");
      // What decides results comes from the stored run; only --header (never stored) is given again.
      const BackendConfig& b = o->backend;
      if (!b.model.empty() || !b.model_id.empty() || !b.base_urls.empty() || !b.command.empty() || b.max_tokens ||
          b.temperature || o->keep_think || o->limit || !b.responses_file.empty())
        throw InputError("--resume continues a stored run with its own settings; drop --model, --base-url, --cmd, "
                         "--responses, --limit, --max-tokens, --temperature and --keep-think");
      if (o->price_in || o->price_out)
        throw InputError("--resume keeps the stored run's prices; give --price-in and --price-out to `keval results`");
      if (fewshot_seed_option->count() > 0)
        throw InputError("--resume rebuilds the stored run's prompts with its own few-shot seed; drop --fewshot-seed");
      std::vector<std::string> judge_given = given(judge_options);
      std::erase(judge_given, "--judge-header");
      if (!judge_given.empty())
        throw InputError("--resume continues a stored run with its own judge; drop the --judge-* options "
                         "(only --judge-header is given again)");
      if (!std::filesystem::exists(o->db)) throw InputError(fmt::format("no keval database at {}", o->db));
      store.emplace(o->db, false);
      TaskRegistry registry(global.paths());
      const RunRecord run = find_run_or_fail(*store, o->resume, "--resume");
      summary = Runner(registry, *store).resume(run.id, progress, o->backend.headers, !o->no_cache, o->judge.headers);
    } else {
      RunConfig options;
      options.tasks = text::split(o->tasks, ',');
      options.backend = o->backend;
      options.max_failures = o->max_failures;
      options.keep_think = o->keep_think;
      options.use_cache = !o->no_cache;
      options.prices = Prices{o->price_in, o->price_out};
      if (o->limit) options.limit = static_cast<size_t>(*o->limit);
      options.num_fewshot = o->num_fewshot;
      options.fewshot_seed = o->fewshot_seed;
      options.mc_mode = o->mc_mode;
      options.name = o->name;
      options.show_progress = progress;
      if (!o->judge.kind.empty()) {
        options.judge = o->judge;
        options.judge->judge = true;
        options.judge->share_execution(options.backend);
      } else if (!given(judge_options).empty()) {
        std::vector<std::string> names;  // every --judge-* option but --judge-backend itself
        for (const CLI::Option* option : judge_options) names.push_back("--" + option->get_lnames().front());
        names.erase(names.begin());
        const std::string last = names.back();
        names.pop_back();
        throw InputError(fmt::format("{} and {} need --judge-backend", text::join(names, ", "), last));
      }
      if (!o->shard.empty()) options.shard = parse_shard(o->shard, o->shard_count);
      else if (o->shard_count) throw InputError("--shard-count goes with --shard auto");
      // Every missing option in one message, not one per attempt.
      std::vector<std::string> missing;
      if (o->tasks.empty()) missing.push_back("--tasks (task, group and suite names; `keval tasks` lists them)");
      if (o->backend.kind.empty())
        missing.push_back(fmt::format("--backend ({})", backend_kind_list(BackendRole::model, ", ")));
      for (auto& m : missing_backend_options(options.backend, "--")) missing.push_back(std::move(m));
      if (options.judge)
        for (auto& m : missing_backend_options(*options.judge, "--judge-")) missing.push_back(std::move(m));
      fail_if_missing(missing, "");
      TaskRegistry registry(global.paths());
      // Check everything that can be checked before the database is touched.
      registry.resolve(options.tasks);
      make_backend(options.backend);
      if (options.judge) make_backend(*options.judge);
      if (o->dry_run) {
        // The plan is made without a database: nothing is stored, nothing is sent.
        RunPlan plan = make_run_plan(registry, options, false);
        if (o->json) fmt::print("{}\n", plan.to_json().dump(2));
        else fmt::print("{}", format_plan(plan));
        return 0;
      }
      store.emplace(o->db, StoreAccess::create);  // creates the parent directories too
      summary = Runner(registry, *store).start(options);
    }
    const RunOutcome outcome = assess_run(*store, summary);
    explain_undefined_values(*store, summary.run, summary.results);
    if (o->json) {
      fmt::print("{}\n", results_json(summary.run, summary.results).dump(2));
      for (const auto& line : outcome.notes) fmt::print(stderr, "{}\n", line);
    } else {
      fmt::print("{}", format_results_table(summary.run, summary.results));
      for (const auto& line : outcome.notes) fmt::print("{}\n", line);
      fmt::print("run id: {}\n", summary.run.id);
    }
    if (!outcome.failure.empty()) throw CheckFailed(outcome.failure);
    return 0;
  };
}

} // namespace keval::cli
