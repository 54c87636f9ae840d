#include "runner.h"

#include <cmath>
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unistd.h>

#include <fmt/format.h>

#include "context_check.h"
#include "extract_choice.h"
#include "dispatch.h"
#include "judging.h"
#include "keval_version.h"
#include "metrics.h"
#include "progress.h"
#include "run_lock.h"
#include "scorer.h"
#include "error.h"
#include "sha256.h"
#include "text.h"

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

// The identity recorded for a backend (empty: none), which keys its cached answers, and the
// prompt log-probs' shape its probe found, in which the run asks for them.
BackendOptions with_identity(BackendOptions options, const nlohmann::json& entry) {
  options.identity = entry.value("identity", "");
  const nlohmann::json verdict = entry.value("endpoint", nlohmann::json::object()).value("prompt_logprobs", nlohmann::json::object());
  if (verdict.value("available", false) && verdict.contains("api")) options.logprobs_api = verdict.at("api");
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

nlohmann::json RunPlan::to_json() const {
  nlohmann::json out = {{"run_key", run_key}};
  nlohmann::json list = nlohmann::json::array();
  size_t samples = 0, requests = 0, judge = 0, characters = 0;
  for (const auto& t : tasks) {
    list.push_back({{"task", t.name}, {"mode", t.mode}, {"samples", t.samples}, {"requests", t.requests},
                    {"turns", t.max_turns}, {"judge_requests", t.judge_requests}, {"characters", t.characters}});
    if (t.tokens) list.back()["tokens"] = *t.tokens;
    samples += t.samples;
    requests += t.requests;
    judge += t.judge_requests;
    characters += t.characters;
  }
  out["tasks"] = std::move(list);
  out["total"] = {{"samples", samples}, {"requests", requests}, {"judge_requests", judge}, {"characters", characters}};
  if (!tasks.empty() && std::all_of(tasks.begin(), tasks.end(), [](const PlannedTask& t) { return t.tokens.has_value(); })) {
    long long tokens = 0;
    for (const auto& t : tasks) tokens += *t.tokens;
    out["total"]["tokens"] = tokens;
  }
  if (auto cost = estimate_cost(out["tasks"], recorded_prices(config))) out["estimated_cost"] = std::move(*cost);
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

namespace {

// Checks the counted prompts against the servers' contexts (ContextCheck) and sets each planned
// task's estimated tokens. A dry run probes nothing else, so it asks the model's server only who
// it is, to know how to count.
void check_context(RunPlan& plan, const nlohmann::json& config, Backend& backend, const RunOptions& options,
                   bool probed, const ContextCheck& model_prompts, const ContextCheck& judge_prompts) {
  auto endpoint_of = [](const nlohmann::json& entry) {
    const nlohmann::json probe = entry.value("endpoint", nlohmann::json());
    return probe.is_object() && probe.contains("endpoints") && !probe["endpoints"].empty() ? probe["endpoints"][0]
                                                                                         : nlohmann::json();
  };
  nlohmann::json endpoint = endpoint_of(config.at("backend"));
  if (!probed) {
    const nlohmann::json probe = backend.probe(false);
    if (probe.is_object() && probe.contains("endpoints") && !probe["endpoints"].empty()) endpoint = probe["endpoints"][0];
  }
  const auto per_character = model_prompts.check(backend, endpoint, options.backend, false);
  for (auto& task : plan.tasks)
    if (auto it = per_character.find(task.name); it != per_character.end())
      task.tokens = static_cast<long long>(std::llround(it->second * static_cast<double>(task.characters)));
  if (probed && options.judge && !judge_prompts.empty() && config.contains("judge")) {
    auto judge = make_backend(*options.judge);
    judge->probe(false);  // the backend learns how its server counts (the record is already in `config`)
    judge_prompts.check(*judge, endpoint_of(config.at("judge")), *options.judge, true);
  }
}

} // namespace

RunPlan make_run_plan(TaskRegistry& registry, const RunOptions& options, bool probe_servers) {
  if (options.mc_mode != "auto" && options.mc_mode != "loglik" && options.mc_mode != "generate")
    throw InputError(fmt::format("--mc-mode '{}' is not one of loglik, generate, auto", options.mc_mode));
  auto tasks = registry.resolve(options.tasks);
  auto backend = make_backend(options.backend);

  failure_limit(options.max_failures, 0);  // checks the spelling before anything is stored
  nlohmann::json config = options.to_json();
  if (probe_servers) {
    // Facts, not names: who the server says it is keys the cache and is recorded; whether it
    // gives prompt log-probs decides how multiple choice is asked.
    bool want_loglikelihood = false;
    for (const TaskConfig* t : tasks)
      want_loglikelihood = want_loglikelihood || (t->output_type == OutputType::multiple_choice && options.mc_mode != "generate");
    record_probe(config["backend"], backend->probe(want_loglikelihood), options.backend);
    if (options.judge) record_probe(config["judge"], make_backend(*options.judge)->probe(false), *options.judge);
  }

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
  // The longest prompts of each task (and of each judged task's judge), counted by the server
  // once every task is planned: a prompt longer than its context fails here, not in the run.
  ContextCheck model_prompts, judge_prompts;
  const long long model_max_tokens_given = options.backend.max_tokens.value_or(-1);
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
        // Every shape the probe tried, each with what the server returned.
        std::vector<std::string> refusals;
        for (const auto& r : verdict.value("refused", nlohmann::json::array()))
          refusals.push_back(fmt::format("{}: {}", r.value("api", "?"), r.value("detail", "")));
        if (refusals.empty() && verdict.contains("detail")) refusals.push_back(verdict.value("detail", ""));
        throw InputError(fmt::format("--mc-mode loglik: backend '{}' gives no log-probabilities for task '{}'{}; use "
                                     "--mc-mode generate (or auto)", options.backend.kind, t->name,
                                     refusals.empty() ? "" : fmt::format(" (server {}: {})", verdict.value("server", "asked"),
                                                                         text::join(refusals, "; "))));
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
    const long long max_tokens = model_max_tokens_given >= 0 ? model_max_tokens_given : t->generation.max_tokens;
    std::unique_ptr<JudgeProtocol> judge_protocol;
    if (t->judge && options.judge) judge_protocol = make_judge_protocol(*t->judge, registry.judge_data(*t));
    for (size_t from = 0; from < builder.size(); from += chunk) {
      for (const auto& s : builder.build(from, std::min(builder.size(), from + chunk))) {
        const size_t turns = mode == "dialogue" ? s.turns.size() : 1;
        ++n;
        n_requests += turns;
        // What the context check counts: a log-likelihood request's context with its longest
        // choice; a dialogue's questions without the model's answers (unknown yet).
        if (mode == "loglik") {
          size_t longest = 0;
          for (size_t c = 1; c < s.choices.size(); ++c)
            if (text::char_count(s.choices[c]) > text::char_count(s.choices[longest])) longest = c;
          model_prompts.add(t->name, s.prompt + (s.choices.empty() ? "" : s.choices[longest]), 0);
        } else if (mode == "dialogue") {
          std::string asked = t->system_prompt;
          for (const auto& turn : s.turns) asked += "\n\n" + turn;
          model_prompts.add(t->name, asked, max_tokens);
        } else {
          model_prompts.add(t->name, s.asked(), max_tokens);
        }
        if (judge_protocol && turns > 0) {
          // The judge of the last turn sees the most: every question, and every answer left empty.
          const int last = static_cast<int>(turns) - 1;
          std::string prompt;
          for (const auto& m : judge_protocol->prompt(s, last, std::vector<std::string>(turns)))
            prompt += (prompt.empty() ? "" : "\n\n") + m.content;
          judge_prompts.add(t->name, prompt, options.judge->max_tokens.value_or(k_judge_max_tokens),
                            static_cast<long long>(turns) * max_tokens);
        }
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
  if (options.shard) config["shard"]["tasks"] = shard_counts;
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : registry.groups()) {
    auto members = registry.group_tasks(g.name);
    bool covered = std::all_of(members.begin(), members.end(), [&](const std::string& m) { return in_run.count(m) > 0; });
    if (covered) groups.push_back({{"name", g.name}, {"aggregate", g.aggregate}, {"members", g.members}});
  }
  config["groups"] = groups;
  check_context(plan, config, *backend, options, probe_servers, model_prompts, judge_prompts);
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
  RunOptions options = RunConfig::from_json(config, {id_or_name, headers, judge_headers});
  options.use_cache = use_cache && options.use_cache;
  options.show_progress = show_progress;
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
  auto backend = make_backend(with_identity(options.backend, run.config.at("backend")));
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
