#include "runner.h"

#include <cmath>
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unistd.h>

#include <fmt/format.h>

#include "extract_choice.h"
#include "dispatch.h"
#include "keval_version.h"
#include "metrics.h"
#include "progress.h"
#include "run_lock.h"
#include "scorer.h"
#include "util/error.h"
#include "util/sha256.h"
#include "util/text.h"

namespace keval {
namespace {

std::string new_run_id(const std::string& hash, const std::string& created_at) {
  std::random_device device;
  return sha256_hex(fmt::format("{}|{}|{}|{}", hash, created_at, getpid(), device())).substr(0, 12);
}

std::string default_name(const BackendOptions& backend) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
  std::string model = backend.model.empty() ? backend.kind : backend.model;
  for (char& c : model)
    if (c == '/' || c == ' ') c = '-';
  return backend.model.empty() ? fmt::format("{}-{}", backend.kind, stamp) : fmt::format("{}-{}-{}", backend.kind, model, stamp);
}

// One task of a run: its configuration, samples and how its MC items are asked.
struct RunTask {
  const TaskConfig* config = nullptr;
  std::vector<Sample> samples;
  std::string mode;  // loglik | generate | dialogue
};

// "N" or "N%" of `total` requests -> the number of failures allowed; nullopt: no limit.
std::optional<long long> failure_limit(const std::string& spec, size_t total) {
  if (spec.empty()) return std::nullopt;
  bool percent = spec.back() == '%';
  std::string number = percent ? spec.substr(0, spec.size() - 1) : spec;
  double value = 0;
  size_t used = 0;
  try {
    value = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  // Finite and at most 1e15, so the cast below is defined ("1e300" and "inf" are not counts).
  if (used == 0 || used != number.size() || !(value >= 0 && value <= 1e15) || (!percent && value != std::floor(value)))
    throw InputError(fmt::format("--max-failures '{}' is not a count N or a share N%", spec));
  if (percent) return static_cast<long long>(std::floor(value / 100.0 * static_cast<double>(total)));
  return static_cast<long long>(value);
}

TaskResult to_task_result(const std::string& task, const std::string& metric, const MetricEstimate& e) {
  TaskResult r;
  r.task = task;
  r.metric = metric;
  r.value = e.value;
  r.stderr_value = e.stderr_value;
  r.ci_low = e.ci_low;
  r.ci_high = e.ci_high;
  r.n = e.n;
  return r;
}

// A backend's settings as recorded in a run's configuration (never header values: often secrets).
nlohmann::json backend_config(const BackendOptions& options) {
  nlohmann::json out = {{"kind", options.kind}, {"model", options.model}};
  if (options.kind == "random") out["seed"] = options.seed;
  if (!options.responses_file.empty()) {
    out["responses_file"] = options.responses_file;
    out["responses_sha256"] = sha256_file_hex(options.responses_file);
  }
  if (!options.base_urls.empty()) out["base_urls"] = options.base_urls;
  if (!options.command.empty()) out["command"] = options.command;
  if (options.max_tokens) out["max_tokens"] = *options.max_tokens;
  if (options.temperature) out["temperature"] = *options.temperature;
  if (!options.headers.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& h : options.headers) names.push_back(std::string(text::trim(h.substr(0, h.find(':')))));
    out["header_names"] = names;
  }
  return out;
}

// The inverse, for --resume; `headers` are given again because their values are not stored.
BackendOptions backend_options(const nlohmann::json& b, const nlohmann::json& execution,
                               const std::vector<std::string>& headers, const char* header_flag) {
  BackendOptions options;
  options.kind = b.at("kind");
  options.model = b.value("model", "");
  options.model_id = b.value("model_id", "");
  options.seed = b.value("seed", 1234ULL);
  options.responses_file = b.value("responses_file", "");
  options.command = b.value("command", "");
  if (b.contains("base_urls")) options.base_urls = b.at("base_urls").get<std::vector<std::string>>();
  if (b.contains("max_tokens")) options.max_tokens = b.at("max_tokens").get<int>();
  if (b.contains("temperature")) options.temperature = b.at("temperature").get<double>();
  options.concurrency = execution.value("concurrency", 16);
  options.timeout = execution.value("timeout", 300.0);
  options.max_retries = execution.value("max_retries", 5);
  options.max_response_bytes = execution.value("max_response_bytes", k_default_max_response_bytes);
  options.headers = headers;
  if (b.contains("header_names") && headers.empty() && !b.at("header_names").empty())
    throw InputError(fmt::format("the run was sent with {} {}; give the headers again with --resume (their values "
                                 "are not stored)", header_flag, b.at("header_names").dump()));
  if (b.contains("responses_sha256") && sha256_file_hex(options.responses_file) != b.at("responses_sha256"))
    throw InputError(fmt::format("{} changed since the run started; start a new run instead", options.responses_file));
  return options;
}

// The number of model requests of a task in this run: the shard's when the run is a shard.
size_t requests_of(const nlohmann::json& config, const nlohmann::json& task) {
  if (config.contains("shard")) {
    const auto& counts = config.at("shard").at("tasks").at(task.at("name").get<std::string>());
    return counts.value("n_requests", size_t{0});
  }
  return task.value("n_requests", task.value("n_samples", size_t{0}));
}

// Unicode characters of what a request sends, as far as is known before the run (a dialogue's
// later turns also carry the model's own earlier answers).
size_t characters_sent(const RunTask& task, const Sample& s) {
  if (task.mode == "loglik") {
    size_t n = 0;
    const size_t context = text::char_count(s.prompt);
    for (const auto& c : s.choices) n += context + text::char_count(c);
    return n;
  }
  if (task.mode == "dialogue") {
    size_t n = 0, asked = text::char_count(task.config->system_prompt);
    for (const auto& turn : s.turns) n += (asked += text::char_count(turn));
    return n;
  }
  size_t n = 0;
  for (const auto& m : chat_messages(*task.config, s)) n += text::char_count(m.content);
  return n;
}

// Records a backend's probe in its configuration entry: the endpoints as they describe themselves
// and the identity that keys the response cache (--model-id, when given, pins it).
void record_probe(nlohmann::json& entry, const nlohmann::json& probe, const BackendOptions& options) {
  if (!options.model_id.empty()) entry["model_id"] = options.model_id;
  if (probe.is_null()) return;
  entry["endpoint"] = probe;
  entry["identity"] = options.model_id.empty() ? probe.value("identity", "") : "model-id:" + options.model_id;
  if (entry["identity"] == "")
    fmt::print(stderr, "note: the server at {} names no model (GET /models: {}); its answers are cached under --model "
                       "'{}' alone: give --model-id to pin the model's identity\n",
               text::join(options.base_urls, ", "),
               probe.at("endpoints").empty() ? "" : probe.at("endpoints")[0].value("models_error", "no entries"), options.model);
}

// The identity recorded for a backend (empty: none), which keys its cached answers.
BackendOptions with_identity(BackendOptions options, const nlohmann::json& entry) {
  options.identity = entry.value("identity", "");
  return options;
}

// The samples of the run's tasks (all, or only the judged ones) that `backend` has no answer
// for, and a warning on stderr when there are any: a replay file covering 5 of 1,000 samples is
// said at the start, not found out from a headline.
MissingAnswers find_missing_answers(TaskRegistry& registry, const nlohmann::json& task_list, const RunOptions& options,
                                    const Backend& backend, bool judged_only, const char* what) {
  MissingAnswers out;
  out.file = backend.answers_file();
  if (out.file.empty()) return out;
  std::vector<std::string> shown;
  long long total = 0;
  for (const auto& entry : task_list) {
    if (judged_only && !entry.contains("judge")) continue;
    const TaskConfig* task = registry.find_task(entry.at("name"));
    SampleBuilder builder = registry.sample_builder(*task, options.num_fewshot, options.limit, true, options.fewshot_seed);
    long long missing = 0, asked = 0;
    const size_t chunk = std::max<size_t>(options.chunk_size, 1);
    for (size_t from = 0; from < builder.size(); from += chunk)
      for (const auto& s : builder.build(from, std::min(builder.size(), from + chunk))) {
        if (options.shard && !in_shard(*options.shard, s.task, s.id)) continue;  // another shard's
        ++asked;
        if (backend.has_answer(s.task, s.id) == false) ++missing;
      }
    total += asked;
    if (!missing) continue;
    out.per_task[task->name] = missing;
    shown.push_back(fmt::format("{} {} of {}", task->name, missing, asked));
  }
  if (!out.per_task.empty())
    fmt::print(stderr, "warning: {} has no {} for {} of the run's {} samples ({}); they will count as failed, not scored\n",
               out.file, what, out.total(), total, text::join(shown, ", "));
  return out;
}

} // namespace

// Execution settings (concurrency, batch sizes), the run's name and its shard are left out, so
// equal evaluations hash equally and every shard of one command shares the key.
std::string config_hash(const nlohmann::json& config) {
  nlohmann::json copy = config;
  copy.erase("execution");
  copy.erase("name");
  copy.erase("shard");
  copy.erase("merged");
  return sha256_hex(copy.dump());
}

nlohmann::json RunPlan::to_json() const {
  nlohmann::json out = {{"run_key", run_key}};
  nlohmann::json list = nlohmann::json::array();
  size_t samples = 0, requests = 0, judge = 0, characters = 0;
  for (const auto& t : tasks) {
    list.push_back({{"task", t.name}, {"mode", t.mode}, {"samples", t.samples}, {"requests", t.requests},
                    {"turns", t.max_turns}, {"judge_requests", t.judge_requests}, {"characters", t.characters}});
    samples += t.samples;
    requests += t.requests;
    judge += t.judge_requests;
    characters += t.characters;
  }
  out["tasks"] = std::move(list);
  out["total"] = {{"samples", samples}, {"requests", requests}, {"judge_requests", judge}, {"characters", characters}};
  out["backend"] = config.at("backend");
  if (config.contains("judge")) out["judge"] = config.at("judge");
  if (config.contains("shard")) out["shard"] = {{"index", config["shard"]["index"]}, {"count", config["shard"]["count"]}};
  return out;
}

long long MissingAnswers::total() const {
  long long n = 0;
  for (const auto& [task, count] : per_task) n += count;
  return n;
}

std::vector<TaskResult> compute_results(Store& store, const RunRecord& run) {
  std::vector<TaskResult> results;
  std::map<std::string, std::map<std::string, TaskResult>> by_task;  // task -> metric -> result
  std::map<std::string, long long> samples_of;
  for (const auto& task : run.config.at("tasks")) {
    std::string name = task.at("name");
    std::vector<SampleScore> scored;
    long long failed = 0, unparsed = 0, judge_failed = 0;
    // One stored score at a time: a large task's parsed score JSON is never all in memory.
    store.for_each_score(run.id, name, [&](StoredScore&& s) {
      if (s.status == "failed") {
        ++failed;
        return;
      }
      if (s.status == "judge_failed") {
        ++judge_failed;
        return;
      }
      if (s.status == "unparsed") ++unparsed;
      // Scored, but a turn has no rating (left out, or 0 where the protocol counts it so).
      if (s.score.contains("meta") && s.score["meta"].contains("judge_failed_turns")) ++judge_failed;
      scored.push_back(SampleScore::from_json(s.score));
    });
    samples_of[name] = task.value("n_samples", 0);
    auto add = [&](const std::string& metric, const std::string& shown, const std::vector<SampleScore>& samples) {
      TaskResult r = to_task_result(name, shown, aggregate_metric(metric, samples));
      r.n_failed = failed;
      r.n_unparsed = unparsed;
      r.n_judge_failed = judge_failed;
      by_task[name][shown] = r;
      results.push_back(r);
    };
    for (const auto& metric : task.at("metrics")) add(metric, metric, scored);
    // Judge metrics per category ("judge_score/math"), categories in the order they first appear.
    std::vector<std::string> categories;
    std::map<std::string, std::vector<SampleScore>> by_category;
    for (const auto& metric : task.value("breakdown_metrics", nlohmann::json::array())) {
      if (categories.empty())
        for (const auto& s : scored) {
          const std::string c = s.meta.value("category", "");
          if (c.empty()) continue;
          if (!by_category.count(c)) categories.push_back(c);
          by_category[c].push_back(s);
        }
      for (const auto& c : categories) add(metric, fmt::format("{}/{}", metric.get<std::string>(), c), by_category[c]);
    }
  }
  // Groups, innermost first: a group's members are tasks or groups already computed.
  std::set<std::string> done;
  const nlohmann::json groups = run.config.value("groups", nlohmann::json::array());
  for (size_t pass = 0; pass < groups.size() + 1 && done.size() < groups.size(); ++pass) {
    for (const auto& g : groups) {
      std::string name = g.at("name");
      if (done.count(name)) continue;
      bool ready = true;
      for (const auto& m : g.at("members")) ready = ready && by_task.count(m.get<std::string>());
      if (!ready) continue;
      done.insert(name);
      std::string aggregate = g.value("aggregate", "macro");
      // Metrics every member reports.
      std::map<std::string, int> counts;
      for (const auto& m : g.at("members"))
        for (const auto& [metric, r] : by_task[m.get<std::string>()]) counts[metric]++;
      for (const auto& [metric, count] : counts) {
        if (count != static_cast<int>(g.at("members").size())) continue;
        TaskResult r;
        r.task = name;
        r.metric = metric;
        r.is_group = true;
        r.aggregation = aggregate;
        double sum = 0, weight = 0, variance = 0;
        bool defined = true;
        for (const auto& m : g.at("members")) {
          const TaskResult& member = by_task[m.get<std::string>()][metric];
          r.n += member.n;
          r.n_failed += member.n_failed;
          r.n_unparsed += member.n_unparsed;
          r.n_judge_failed += member.n_judge_failed;
          if (!member.value) { defined = false; continue; }
          double w = aggregate == "micro" ? static_cast<double>(member.n) : 1.0;
          double se = member.stderr_value.value_or(0.0);
          sum += w * *member.value;
          variance += w * w * se * se;
          weight += w;
        }
        if (defined && weight > 0) {
          r.value = sum / weight;
          // Members are independent samples, so their variances add.
          r.stderr_value = std::sqrt(variance) / weight;
          r.ci_low = *r.value - 1.959964 * *r.stderr_value;
          r.ci_high = *r.value + 1.959964 * *r.stderr_value;
        }
        by_task[name][metric] = r;
        results.push_back(r);
      }
    }
  }
  return results;
}

RunPlan make_run_plan(TaskRegistry& registry, const RunOptions& options, bool probe_servers) {
  if (options.mc_mode != "auto" && options.mc_mode != "loglik" && options.mc_mode != "generate")
    throw InputError(fmt::format("--mc-mode '{}' is not one of loglik, generate, auto", options.mc_mode));
  auto tasks = registry.resolve(options.tasks);
  auto backend = make_backend(options.backend);

  nlohmann::json config;
  config["keval_version"] = k_version;
  config["extractor_version"] = k_extractor_version;
  config["requested"] = options.tasks;
  config["limit"] = options.limit ? nlohmann::json(*options.limit) : nlohmann::json(nullptr);
  config["num_fewshot"] = options.num_fewshot ? nlohmann::json(*options.num_fewshot) : nlohmann::json(nullptr);
  config["fewshot_seed"] = options.fewshot_seed;
  config["mc_mode"] = options.mc_mode;
  config["keep_think"] = options.keep_think;
  failure_limit(options.max_failures, 0);  // checks the spelling before anything is stored
  config["backend"] = backend_config(options.backend);
  if (options.judge) config["judge"] = backend_config(*options.judge);
  if (probe_servers) {
    // Facts, not names: who the server says it is keys the cache and is recorded; whether it
    // gives prompt log-probs decides how multiple choice is asked.
    bool want_loglikelihood = false;
    for (const TaskConfig* t : tasks)
      want_loglikelihood = want_loglikelihood || (t->output_type == OutputType::multiple_choice && options.mc_mode != "generate");
    record_probe(config["backend"], backend->probe(want_loglikelihood), options.backend);
    if (options.judge) record_probe(config["judge"], make_backend(*options.judge)->probe(false), *options.judge);
  }
  config["execution"] = {{"concurrency", options.backend.concurrency},
                         {"timeout", options.backend.timeout},
                         {"max_retries", options.backend.max_retries},
                         {"rps", options.backend.rps},
                         {"max_response_bytes", options.backend.max_response_bytes},
                         {"max_failures", options.max_failures},
                         {"cache", options.use_cache}};

  if (options.judge) make_backend(*options.judge);  // checks the judge's settings before anything is stored
  // A judged task records its protocol (prompts, version, penalty, references); without a judge
  // its judge metrics are left out of the run rather than reported empty.
  auto add_judge = [&](nlohmann::json& entry, const TaskConfig& t, bool judged) {
    const auto judge_only = judge_metrics(t.judge->protocol);
    if (judged) {
      auto protocol = make_judge_protocol(*t.judge, registry.judge_data(t));
      entry["judge"] = protocol->describe();
      nlohmann::json breakdown = nlohmann::json::array();
      for (const auto& m : protocol->breakdown_metrics())
        if (std::find(t.metrics.begin(), t.metrics.end(), m) != t.metrics.end()) breakdown.push_back(m);
      entry["breakdown_metrics"] = breakdown;
      return;
    }
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& m : t.metrics)
      if (std::find(judge_only.begin(), judge_only.end(), m) == judge_only.end()) kept.push_back(m);
    entry["metrics"] = kept;
    fmt::print(stderr, "note: {} is scored by a judge model; without --judge-backend only {} is reported\n", t.name,
               kept.empty() ? std::string("nothing") : text::join(kept.get<std::vector<std::string>>(), ", "));
  };
  RunPlan plan;
  nlohmann::json task_list = nlohmann::json::array();
  nlohmann::json shard_counts = nlohmann::json::object();
  std::set<std::string> in_run;
  for (const TaskConfig* t : tasks) {
    std::string mode = "generate";
    if (t->output_type == OutputType::dialogue) mode = "dialogue";
    else if (t->output_type == OutputType::multiple_choice) {
      bool can = backend->supports_loglikelihood(t->name);
      if (options.mc_mode == "loglik" && !can) {
        const nlohmann::json verdict = config["backend"].value("endpoint", nlohmann::json::object()).value("prompt_logprobs", nlohmann::json::object());
        throw InputError(fmt::format("--mc-mode loglik: backend '{}' gives no log-probabilities for task '{}'{}; use "
                                     "--mc-mode generate (or auto)", options.backend.kind, t->name,
                                     verdict.contains("detail") ? fmt::format(" (server {}: {})", verdict.value("server", "asked"),
                                                                              verdict.value("detail", "")) : ""));
      }
      mode = options.mc_mode == "generate" || !can ? "generate" : "loglik";
    }
    // Hashed first: hashing reads the data files into the registry's cache, from which the
    // builder then copies the rows instead of parsing them a second time.
    std::string hash = registry.task_hash(*t);
    // Building the samples here checks every template and row before anything is stored; they
    // are built again, one task at a time, when the run executes. Only their counts are kept.
    size_t n = 0, n_requests = 0;
    PlannedTask planned;
    planned.name = t->name;
    planned.mode = mode;
    RunTask counting;
    counting.config = t;
    counting.mode = mode;
    // The rows stay cached: when this is the run's last (or only) task, execute() starts from them.
    SampleBuilder builder = registry.sample_builder(*t, options.num_fewshot, options.limit, true, options.fewshot_seed);
    const size_t chunk = std::max<size_t>(options.chunk_size, 1);
    for (size_t from = 0; from < builder.size(); from += chunk) {
      for (const auto& s : builder.build(from, std::min(builder.size(), from + chunk))) {
        const size_t turns = mode == "dialogue" ? s.turns.size() : 1;
        ++n;
        n_requests += turns;
        if (options.shard && !in_shard(*options.shard, s.task, s.id)) continue;
        ++planned.samples;
        planned.requests += turns;
        planned.max_turns = std::max(planned.max_turns, turns);
        planned.characters += characters_sent(counting, s);
      }
    }
    // A task with nothing to evaluate (its dataset filter leaves no row) would store an empty
    // "complete" run that then sits on the leaderboard.
    if (n == 0)
      throw InputError(fmt::format("{}: task '{}' has no sample to evaluate; nothing would be stored", t->source_file,
                                   t->name));
    nlohmann::json entry = {{"name", t->name}, {"version", t->version}, {"hash", hash}, {"mode", mode},
                            {"metrics", t->metrics}, {"n_samples", n}, {"n_requests", n_requests}};
    if (t->judge) add_judge(entry, *t, options.judge.has_value());
    if (entry.contains("judge")) planned.judge_requests = planned.requests;
    shard_counts[t->name] = {{"n_samples", planned.samples}, {"n_requests", planned.requests}};
    // Sampling temperatures that differ by row (KoMT-Bench's per category) and what replaced them.
    if (!t->generation.temperature_field.empty())
      entry["temperature"] = {{"default", t->generation.temperature},
                              {"by_field", t->generation.temperature_field},
                              {"values", t->generation.temperature_by_value},
                              {"replaced_by", options.backend.temperature ? nlohmann::json(*options.backend.temperature)
                                                                          : nlohmann::json(nullptr)}};
    task_list.push_back(std::move(entry));
    plan.task_versions[t->name] = {{"version", t->version}, {"hash", hash}};
    plan.tasks.push_back(std::move(planned));
    in_run.insert(t->name);
  }
  config["tasks"] = task_list;
  // A shard records which it is and its own counts; the run's entries keep the whole run's, so
  // every shard's configuration hashes to the same run key.
  if (options.shard)
    config["shard"] = {{"index", options.shard->index}, {"count", options.shard->count}, {"tasks", shard_counts}};
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : registry.groups()) {
    auto members = registry.group_tasks(g.name);
    bool covered = std::all_of(members.begin(), members.end(), [&](const std::string& m) { return in_run.count(m) > 0; });
    if (covered) groups.push_back({{"name", g.name}, {"aggregate", g.aggregate}, {"members", g.members}});
  }
  config["groups"] = groups;
  plan.run_key = config_hash(config);
  plan.config = std::move(config);
  return plan;
}

RunSummary Runner::start(const RunOptions& options) {
  RunPlan plan = make_run_plan(m_registry, options);
  nlohmann::json& config = plan.config;
  RunRecord run;
  run.task_versions = plan.task_versions;
  run.created_at = utc_now_iso8601();
  run.config_hash = plan.run_key;
  run.id = new_run_id(run.config_hash, run.created_at);
  run.backend = options.backend.kind;
  run.model = options.backend.model;
  run.keval_version = k_version;
  run.status = to_string(RunStatus::running);
  if (!options.name.empty()) {
    if (auto existing = m_store.find_run(options.name))
      throw InputError(fmt::format("a run named '{}' already exists in {} (id {}); continue it with `keval run --resume {}` "
                                   "or choose another --name", options.name, m_store.path(), existing->id, options.name));
    run.name = options.name;
  }
  const RunLock lock(m_store.path(), run.id);  // held while this process writes the run
  if (!options.name.empty()) {
    config["name"] = run.name;
    run.config = config;
    m_store.create_run(run);
  } else {
    // The first free default name; another process starting a run now may take one first.
    std::string base = default_name(options.backend);
    if (options.shard) base += fmt::format("-shard{}of{}", options.shard->index, options.shard->count);
    for (int i = 1;; ++i) {
      run.name = i == 1 ? base : fmt::format("{}-{}", base, i);
      config["name"] = run.name;
      run.config = config;
      if (!m_store.find_run(run.name) && m_store.try_create_run(run)) break;
    }
  }
  return execute(run, options, false);
}

RunSummary Runner::resume(const std::string& id_or_name, bool show_progress, const std::vector<std::string>& headers,
                          bool use_cache, const std::vector<std::string>& judge_headers) {
  auto found = m_store.find_run(id_or_name);
  if (!found) throw InputError(fmt::format("no run '{}' in {} (`keval runs` lists them)", id_or_name, m_store.path()));
  // Held while this process writes the run: a second resume of it is refused, not run twice.
  const RunLock lock(m_store.path(), found->id);
  RunRecord run = *m_store.find_run(found->id);  // as the previous holder left it
  const nlohmann::json& config = run.config;
  RunOptions options;
  for (const auto& t : config.at("tasks")) options.tasks.push_back(t.at("name"));
  if (!config.at("limit").is_null()) options.limit = config.at("limit").get<size_t>();
  if (!config.at("num_fewshot").is_null()) options.num_fewshot = config.at("num_fewshot").get<int>();
  if (config.contains("fewshot_seed")) {
    options.fewshot_seed = config.at("fewshot_seed").get<std::int64_t>();
  } else if (options.num_fewshot.value_or(0) > 0) {
    // Made before few-shot examples were drawn per sample: its prompts cannot be rebuilt.
    throw InputError(fmt::format("run '{}' took its few-shot examples in file order (an earlier keval); they cannot be "
                                 "rebuilt to resume it: start a new run", id_or_name));
  }
  options.mc_mode = config.value("mc_mode", "auto");
  const nlohmann::json execution = config.value("execution", nlohmann::json::object());
  options.backend = backend_options(config.at("backend"), execution, headers, "--header");
  options.backend.rps = execution.value("rps", 0.0);
  if (config.contains("judge")) {
    options.judge = backend_options(config.at("judge"), execution, judge_headers, "--judge-header");
    options.judge->judge = true;
  }
  options.max_failures = execution.value("max_failures", "");
  options.use_cache = use_cache && execution.value("cache", true);
  options.keep_think = config.value("keep_think", false);
  options.show_progress = show_progress;
  if (config.contains("shard"))
    options.shard = ShardSpec{config.at("shard").at("index").get<size_t>(), config.at("shard").at("count").get<size_t>()};
  for (const auto& t : config.at("tasks")) {
    const TaskConfig* task = m_registry.find_task(t.at("name"));
    if (!task) throw InputError(fmt::format("run {} used task '{}', which no longer exists", run.id, t.at("name").get<std::string>()));
    if (m_registry.task_hash(*task) != t.at("hash"))
      throw InputError(fmt::format("task '{}' (its file or data) changed since run {} started; start a new run instead",
                                   task->name, run.id));
  }
  // The server must still be the one the run started with: answers of two models never mix.
  auto same_server = [&](const BackendOptions& backend, const char* key) {
    const nlohmann::json& entry = config.at(key);
    if (!entry.contains("endpoint") || !backend.model_id.empty()) return;
    const nlohmann::json now = make_backend(backend)->probe(false);
    const std::string before = entry.value("identity", ""), after = now.is_object() ? now.value("identity", "") : "";
    if (!before.empty() && !after.empty() && before != after)
      throw InputError(fmt::format("run {} was answered by {}; the server now reports {}: start a new run, or give "
                                   "--model-id to pin an identity when the server reports none that is stable",
                                   run.id, entry.at("endpoint").at("endpoints").dump(), now.at("endpoints").dump()));
  };
  same_server(options.backend, "backend");
  if (options.judge) same_server(*options.judge, "judge");
  m_store.set_run_status(run.id, std::string(to_string(RunStatus::running)));
  return execute(run, options, true);
}

namespace {

// Requests still to send (progress): every model request of the run and, for judged tasks, every
// turn's verdict, less what a killed run already stored.
size_t requests_to_send(Store& store, const RunRecord& run, bool judged, bool resuming) {
  const nlohmann::json& task_list = run.config.at("tasks");
  size_t total = 0;
  for (const auto& t : task_list) total += requests_of(run.config, t) * (judged && t.contains("judge") ? 2 : 1);
  if (resuming)
    for (const auto& t : task_list) {
      for (const auto& r : store.load_responses(run.id, t.at("name")))
        if (r.response.ok()) --total;
      if (judged && t.contains("judge"))
        for (const auto& j : store.load_judgements(run.id, t.at("name")))
          if (j.status == "ok") --total;
    }
  return total;
}

// The run's tasks as dispatch asks and scores them: mode, scorer and, where judged, the protocol.
std::vector<DispatchTask> dispatch_tasks(TaskRegistry& registry, const RunRecord& run, bool judged) {
  std::vector<DispatchTask> tasks;
  for (const auto& entry : run.config.at("tasks")) {
    DispatchTask task;
    task.config = registry.find_task(entry.at("name"));
    const std::optional<AskMode> mode = parse_ask_mode(entry.at("mode").get<std::string>());
    if (!mode)
      throw InputError(fmt::format("run {}: task {} has an unknown mode {}", run.id, task.config->name, entry.at("mode").dump()));
    task.mode = *mode;
    task.scorer = make_scorer(task.config->scorer, task.config->scorer_options);
    if (judged && entry.contains("judge"))
      task.judge = make_judge_protocol(*task.config->judge, registry.judge_data(*task.config));
    tasks.push_back(std::move(task));
  }
  return tasks;
}

} // namespace

RunSummary Runner::execute(RunRecord run, const RunOptions& options, bool resuming) {
  auto backend = make_backend(options.backend);
  std::unique_ptr<Backend> judge_backend;
  if (options.judge) judge_backend = make_backend(*options.judge);
  const nlohmann::json& task_list = run.config.at("tasks");
  RunSummary summary;
  summary.missing_answers = find_missing_answers(m_registry, task_list, options, *backend, false, "answer");
  if (judge_backend)
    summary.missing_verdicts = find_missing_answers(m_registry, task_list, options, *judge_backend, true, "judge verdict");
  // Progress and the --max-failures base come from the configuration: samples are built as the
  // stream needs them, so a run never holds the whole run's prompts.
  Progress progress(requests_to_send(m_store, run, judge_backend != nullptr, resuming), options.show_progress);
  size_t run_requests = 0;  // every model request of the run, stored or not: the base of N%
  for (const auto& t : task_list) run_requests += requests_of(run.config, t);

  std::vector<DispatchTask> tasks = dispatch_tasks(m_registry, run, judge_backend != nullptr);
  DispatchOptions dispatch;
  dispatch.run_id = run.id;
  dispatch.resuming = resuming;
  dispatch.use_cache = options.use_cache;
  dispatch.think = think_policy(options.keep_think);
  dispatch.num_fewshot = options.num_fewshot;
  dispatch.limit = options.limit;
  dispatch.fewshot_seed = options.fewshot_seed;
  dispatch.chunk_size = options.chunk_size;
  dispatch.shard = options.shard;
  dispatch.max_failures = failure_limit(options.max_failures, run_requests);
  // Cached answers are keyed by the identity the server reported when the run was planned.
  const DispatchEndpoint model{backend.get(), with_identity(options.backend, run.config.at("backend")),
                               static_cast<size_t>(options.backend.concurrency)};
  std::optional<DispatchEndpoint> judge;
  if (judge_backend)
    judge = DispatchEndpoint{judge_backend.get(), with_identity(*options.judge, run.config.at("judge")),
                             static_cast<size_t>(options.judge->concurrency)};

  // Every write of the run goes through the pacer: short transactions, none held while the
  // backend waits, at most k_commit_interval of answers lost to a crash.
  CommitPacer pacer(m_store, options.commit_every);
  try {
    const DispatchCounts counts = dispatch_run(m_registry, m_store, pacer, progress, tasks, dispatch, model, judge);
    summary.n_failed = counts.n_failed;
    summary.n_judge_failed = counts.n_judge_failed;
    pacer.flush();
  } catch (const RunAborted& aborted) {
    // What was answered stays stored: `--resume` continues from it.
    pacer.flush();
    progress.finish();
    m_store.set_run_status(run.id, std::string(to_string(RunStatus::aborted)));
    throw CheckFailed(fmt::format("run {} stopped: {} requests failed, more than --max-failures {} allows (e.g. {}: {}); "
                                  "`keval run --resume {} --db {}` continues it",
                                  run.id, aborted.failed, options.max_failures, to_string(aborted.last.failure),
                                  aborted.last.message, run.id, m_store.path()));
  } catch (...) {
    // What was answered stays stored, when the store still takes writes (the failure may be
    // the store's own: a full disk); the first failure is the one reported.
    try {
      pacer.flush();
    } catch (...) {
    }
    progress.finish();
    try {
      m_store.set_run_status(run.id, std::string(to_string(RunStatus::failed)));
    } catch (...) {
    }
    throw;
  }
  progress.finish();

  // Task and group results from the stored scores, in one transaction.
  // Computed before the write lock is taken, so it is held only while the rows are written.
  summary.results = compute_results(m_store, run);
  m_store.transaction([&] { m_store.put_task_results(run.id, summary.results); });
  // Failed samples (and judge failures) leave the run incomplete: `--resume` retries them.
  const RunStatus status = summary.n_failed || summary.n_judge_failed ? RunStatus::incomplete : RunStatus::complete;
  m_store.set_run_status(run.id, std::string(to_string(status)));
  summary.run = *m_store.find_run(run.id);
  return summary;
}

} // namespace keval
