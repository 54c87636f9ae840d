// `keval run`: evaluate, or continue an interrupted run with --resume.
#include <filesystem>

#include <fmt/format.h>

#include "backend_requirements.h"
#include "commands.h"
#include "progress.h"
#include "results_table.h"
#include "run_reference.h"
#include "run_outcome.h"
#include "runner.h"
#include "shard.h"
#include "util/error.h"
#include "util/text.h"

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
    std::string backend;
    std::string model;
    std::string model_id;
    std::vector<std::string> base_urls;
    std::string responses;
    std::string db = k_default_db;
    std::optional<long long> limit;
    std::optional<int> num_fewshot;
    std::int64_t fewshot_seed = k_default_fewshot_seed;
    int concurrency = 16;
    unsigned long long seed = 1234;
    std::string name;
    std::string mc_mode = "auto";
    std::string resume;
    bool json = false;
    bool no_progress = false;
    bool dry_run = false;
    std::string shard;
    std::optional<size_t> shard_count;
    // HTTP and exec backends.
    std::vector<std::string> headers;
    std::string command;
    std::optional<int> max_tokens;
    std::optional<double> temperature;
    double timeout = 300;
    int max_retries = 5;
    double rps = 0;
    size_t max_response_bytes = k_default_max_response_bytes;
    std::string max_failures;
    bool keep_think = false;
    bool no_cache = false;
    std::optional<double> price_in, price_out;  // USD per million tokens
    // The judge of dialogue tasks.
    std::string judge_backend;
    std::string judge_model;
    std::vector<std::string> judge_base_urls;
    std::string judge_responses;
    std::string judge_command;
    std::vector<std::string> judge_headers;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--tasks,--task", o->tasks, "Comma-separated task, group and suite names (`keval tasks` lists them)");
  app.add_option("--backend", o->backend, "random | replay | openai-chat | openai-completions | exec");
  app.add_option("--model", o->model, "Model name (recorded; sent to HTTP backends)");
  app.add_option("--base-url", o->base_urls, "Server URL (repeatable)");
  app.add_option("--model-id", o->model_id,
                 "Pin the model's identity (keys cached answers) when the server reports none that names the model");
  app.add_option("--responses", o->responses, "replay: recorded responses (JSON lines)");
  app.add_option("--db", o->db, "SQLite database")->capture_default_str();
  app.add_option("--limit", o->limit, "Evaluate the first N samples of each task (N >= 1)");
  app.add_option("--num-fewshot", o->num_fewshot, "Few-shot examples (default: each task's)");
  CLI::Option* fewshot_seed_option =
      app.add_option("--fewshot-seed", o->fewshot_seed, "Seed of each task's few-shot draw (lm-evaluation-harness: 1234)")
          ->capture_default_str();
  app.add_option("--concurrency", o->concurrency, "Requests in flight")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--seed", o->seed, "Seed of the random backend")->capture_default_str();
  app.add_option("--name", o->name, "Run name (unique in the database; default: generated)");
  app.add_option("--mc-mode", o->mc_mode, "Multiple choice by loglik, generate, or auto")->capture_default_str();
  app.add_option("--resume", o->resume, "Continue the run with this id or name (or latest)");
  app.add_option("--cmd", o->command, "exec: the program to start, \"PROGRAM ARGS\" (JSON lines on stdin/stdout)");
  app.add_option("--header", o->headers, "HTTP header NAME:VALUE (repeatable; values are never stored)");
  app.add_option("--max-tokens", o->max_tokens, "Replaces every task's max_tokens (default: each task's own)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--temperature", o->temperature, "Replaces every task's temperature (default: each task's own)")
      ->check(CLI::Range(0.0, 10.0));
  app.add_option("--timeout", o->timeout, "Seconds per HTTP request (whole request); exec: longest wait for a complete reply line")->capture_default_str();
  app.add_option("--max-retries", o->max_retries, "Retries of a failed request (connection errors, 408, 429, 5xx)")
      ->capture_default_str()->check(CLI::Range(0, 100));
  app.add_option("--rps", o->rps, "Requests started per second at most (0: no limit)")->capture_default_str();
  app.add_option("--max-response-bytes", o->max_response_bytes,
                 "A reply (HTTP body, exec line) larger than this fails its request (kind too_large)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-failures", o->max_failures,
                 "Stop the run (exit 1, status aborted) past N failed requests, or N% of the run's requests");
  app.add_flag("--keep-think", o->keep_think, "Score <think>…</think> blocks too (by default they are removed before scoring)");
  app.add_flag("--no-cache", o->no_cache, "Send every request, even one whose response the database has cached");
  app.add_option("--price-in", o->price_in, "USD per million prompt tokens: recorded with the run, gives its cost")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--price-out", o->price_out, "USD per million completion tokens: recorded with the run, gives its cost")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--judge-backend", o->judge_backend,
                 "Judge of dialogue tasks (LogicKor, KoMT-Bench): replay | openai-chat | openai-completions | exec");
  app.add_option("--judge-model", o->judge_model, "Judge model name (sent to HTTP backends; recorded)");
  app.add_option("--judge-base-url", o->judge_base_urls, "Judge server URL (repeatable)");
  app.add_option("--judge-responses", o->judge_responses, "replay judge: recorded verdicts (JSON lines, 'judge' arrays)");
  app.add_option("--judge-cmd", o->judge_command, "exec judge: the program to start");
  app.add_option("--judge-header", o->judge_headers, "Judge HTTP header NAME:VALUE (repeatable; never stored)");
  app.add_flag("--json", o->json, "Print the results as JSON");
  app.add_flag("--no-progress", o->no_progress, "Never draw the progress bar");
  app.add_flag("--dry-run", o->dry_run, "Print the run's plan (tasks, requests, judge requests, characters) and send nothing");
  app.add_option("--shard", o->shard,
                 "Evaluate shard I (0-based) of N of the run's samples: I/N, or auto (Slurm array job, Kubernetes "
                 "Indexed Job); `keval merge` joins the shards' databases");
  app.add_option("--shard-count", o->shard_count, "Shards in all, for --shard auto in a Kubernetes Indexed Job")
      ->check(CLI::Range(1, 1 << 20));
  return [o, &global, fewshot_seed_option]() {
    if (o->limit && *o->limit < 1)
      throw InputError(fmt::format("--limit {}: give 1 or more samples per task (leave --limit out for every sample)", *o->limit));
    bool progress = !o->no_progress && Progress::stderr_is_terminal();
    RunSummary summary;
    std::optional<Store> store;
    if (!o->resume.empty()) {
      if (o->dry_run || !o->shard.empty())
        throw InputError("--resume continues a stored run as it was planned; drop --dry-run and --shard");
      if (!o->tasks.empty() || !o->backend.empty())
        throw InputError("--resume continues a stored run with its own tasks and backend; drop --tasks and --backend");
      // What decides results comes from the stored run; only --header (never stored) is given again.
      if (!o->model.empty() || !o->model_id.empty() || !o->base_urls.empty() || !o->command.empty() || o->max_tokens || o->temperature ||
          o->keep_think || o->limit || !o->responses.empty())
        throw InputError("--resume continues a stored run with its own settings; drop --model, --base-url, --cmd, "
                         "--responses, --limit, --max-tokens, --temperature and --keep-think");
      if (o->price_in || o->price_out)
        throw InputError("--resume keeps the stored run's prices; give --price-in and --price-out to `keval results`");
      if (fewshot_seed_option->count() > 0)
        throw InputError("--resume rebuilds the stored run's prompts with its own few-shot seed; drop --fewshot-seed");
      if (!o->judge_backend.empty() || !o->judge_model.empty() || !o->judge_base_urls.empty() ||
          !o->judge_responses.empty() || !o->judge_command.empty())
        throw InputError("--resume continues a stored run with its own judge; drop the --judge-* options "
                         "(only --judge-header is given again)");
      if (!std::filesystem::exists(o->db)) throw InputError(fmt::format("no keval database at {}", o->db));
      store.emplace(o->db, false);
      TaskRegistry registry(global.paths());
      const RunRecord run = find_run_or_fail(*store, o->resume, "--resume");
      summary = Runner(registry, *store).resume(run.id, progress, o->headers, !o->no_cache, o->judge_headers);
    } else {
      RunOptions options;
      options.tasks = text::split(o->tasks, ',');
      options.backend.kind = o->backend;
      options.backend.model = o->model;
      options.backend.model_id = o->model_id;
      options.backend.base_urls = o->base_urls;
      options.backend.responses_file = o->responses;
      options.backend.seed = o->seed;
      options.backend.concurrency = o->concurrency;
      options.backend.command = o->command;
      options.backend.headers = o->headers;
      options.backend.max_tokens = o->max_tokens;
      options.backend.temperature = o->temperature;
      options.backend.timeout = o->timeout;
      options.backend.max_retries = o->max_retries;
      options.backend.rps = o->rps;
      options.backend.max_response_bytes = o->max_response_bytes;
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
      if (!o->judge_backend.empty()) {
        BackendOptions judge;
        judge.kind = o->judge_backend;
        judge.judge = true;
        judge.model = o->judge_model;
        judge.base_urls = o->judge_base_urls;
        judge.responses_file = o->judge_responses;
        judge.command = o->judge_command;
        judge.headers = o->judge_headers;
        judge.concurrency = o->concurrency;
        judge.timeout = o->timeout;
        judge.max_retries = o->max_retries;
        judge.max_response_bytes = o->max_response_bytes;
        options.judge = judge;
      } else if (!o->judge_model.empty() || !o->judge_base_urls.empty() || !o->judge_responses.empty() ||
                 !o->judge_command.empty() || !o->judge_headers.empty()) {
        throw InputError("--judge-model, --judge-base-url, --judge-responses, --judge-cmd and --judge-header need "
                         "--judge-backend");
      }
      if (!o->shard.empty()) options.shard = parse_shard(o->shard, o->shard_count);
      else if (o->shard_count) throw InputError("--shard-count goes with --shard auto");
      // Every missing option in one message, not one per attempt.
      std::vector<std::string> missing;
      if (o->tasks.empty()) missing.push_back("--tasks (task, group and suite names; `keval tasks` lists them)");
      if (o->backend.empty()) missing.push_back("--backend (random, replay, openai-chat, openai-completions, exec)");
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
