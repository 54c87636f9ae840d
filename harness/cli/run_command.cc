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
    // HTTP and exec backends.
    std::vector<std::string> headers;
    std::string command;
    std::optional<int> max_tokens;
    std::optional<double> temperature;
    double timeout = 300;
    int max_retries = 5;
    double rps = 0;
    std::string max_failures;
    bool keep_think = false;
    bool no_cache = false;
    // The judge of dialogue tasks.
    std::string judge_backend;
    std::string judge_model;
    std::vector<std::string> judge_base_urls;
    std::string judge_responses;
    std::string judge_command;
    std::vector<std::string> judge_headers;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--tasks", o->tasks, "Comma-separated task and group names");
  app.add_option("--backend", o->backend, "random | replay | openai-chat | openai-completions | exec");
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
  app.add_option("--cmd", o->command, "exec: the program to start, \"PROGRAM ARGS\" (JSON lines on stdin/stdout)");
  app.add_option("--header", o->headers, "HTTP header NAME:VALUE (repeatable; values are never stored)");
  app.add_option("--max-tokens", o->max_tokens, "Replaces every task's max_tokens (default: each task's own)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--temperature", o->temperature, "Replaces every task's temperature (default: each task's own)")
      ->check(CLI::Range(0.0, 10.0));
  app.add_option("--timeout", o->timeout, "Seconds per HTTP request, whole request")->capture_default_str();
  app.add_option("--max-retries", o->max_retries, "Retries of a failed request (connection errors, 408, 429, 5xx)")
      ->capture_default_str()->check(CLI::Range(0, 100));
  app.add_option("--rps", o->rps, "Requests started per second at most (0: no limit)")->capture_default_str();
  app.add_option("--max-failures", o->max_failures,
                 "Stop the run (exit 1, status aborted) past N failed requests, or N% of the run's requests");
  app.add_flag("--keep-think", o->keep_think, "Score <think>…</think> blocks too (by default they are removed before scoring)");
  app.add_flag("--no-cache", o->no_cache, "Send every request, even one whose response the database has cached");
  app.add_option("--judge-backend", o->judge_backend,
                 "Judge of dialogue tasks (LogicKor, KoMT-Bench): replay | openai-chat | openai-completions | exec");
  app.add_option("--judge-model", o->judge_model, "Judge model name (sent to HTTP backends; recorded)");
  app.add_option("--judge-base-url", o->judge_base_urls, "Judge server URL (repeatable)");
  app.add_option("--judge-responses", o->judge_responses, "replay judge: recorded verdicts (JSON lines, 'judge' arrays)");
  app.add_option("--judge-cmd", o->judge_command, "exec judge: the program to start");
  app.add_option("--judge-header", o->judge_headers, "Judge HTTP header NAME:VALUE (repeatable; never stored)");
  app.add_flag("--json", o->json, "Print the results as JSON");
  app.add_flag("--no-progress", o->no_progress, "Never draw the progress bar");
  return [o, &global]() {
    bool progress = !o->no_progress && Progress::stderr_is_terminal();
    RunSummary summary;
    if (!o->resume.empty()) {
      if (!o->tasks.empty() || !o->backend.empty())
        throw InputError("--resume continues a stored run with its own tasks and backend; drop --tasks and --backend");
      // What decides results comes from the stored run; only --header (never stored) is given again.
      if (!o->model.empty() || !o->base_urls.empty() || !o->command.empty() || o->max_tokens || o->temperature || o->keep_think)
        throw InputError("--resume continues a stored run with its own settings; drop --model, --base-url, --cmd, "
                         "--max-tokens, --temperature and --keep-think");
      if (!std::filesystem::exists(o->db)) throw InputError(fmt::format("no keval database at {}", o->db));
      Store store(o->db, StoreAccess::read_write);
      TaskRegistry registry(global.paths());
      if (!o->judge_backend.empty() || !o->judge_model.empty() || !o->judge_base_urls.empty() ||
          !o->judge_responses.empty() || !o->judge_command.empty())
        throw InputError("--resume continues a stored run with its own judge; drop the --judge-* options "
                         "(only --judge-header is given again)");
      summary = Runner(registry, store).resume(o->resume, progress, o->headers, !o->no_cache, o->judge_headers);
    } else {
      if (o->tasks.empty()) throw InputError("--tasks is required (task and group names; `keval tasks` lists them)");
      if (o->backend.empty())
        throw InputError("--backend is required (random, replay, openai-chat, openai-completions, exec)");
      TaskRegistry registry(global.paths());
      RunOptions options;
      options.tasks = text::split(o->tasks, ',');
      options.backend.kind = o->backend;
      options.backend.model = o->model;
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
      options.max_failures = o->max_failures;
      options.keep_think = o->keep_think;
      options.use_cache = !o->no_cache;
      options.limit = o->limit;
      options.num_fewshot = o->num_fewshot;
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
        options.judge = judge;
      } else if (!o->judge_model.empty() || !o->judge_base_urls.empty() || !o->judge_responses.empty() ||
                 !o->judge_command.empty() || !o->judge_headers.empty()) {
        throw InputError("--judge-model, --judge-base-url, --judge-responses, --judge-cmd and --judge-header need "
                         "--judge-backend");
      }
      // Check everything that can be checked before the database is touched.
      registry.resolve(options.tasks);
      make_backend(options.backend);
      if (options.judge) make_backend(*options.judge);
      Store store(o->db, StoreAccess::create);  // creates the parent directories too
      summary = Runner(registry, store).start(options);
    }
    if (o->json) {
      fmt::print("{}\n", results_json(summary.run, summary.results).dump(2));
    } else {
      fmt::print("{}", format_results_table(summary.run, summary.results));
      if (summary.n_failed)
        fmt::print("{} samples failed (not scored); `keval run --resume {} --db {}` retries them\n", summary.n_failed,
                   summary.run.id, o->db);
      if (summary.n_judge_failed)
        fmt::print("{} samples have no readable judge verdict (not scored, not zero); `keval run --resume {} --db {}` "
                   "asks the judge again\n", summary.n_judge_failed, summary.run.id, o->db);
      fmt::print("run id: {}\n", summary.run.id);
    }
    return 0;
  };
}

} // namespace keval::cli
