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
#include "judging.h"
#include "keval_version.h"
#include "metrics.h"
#include "normalize.h"
#include "progress.h"
#include "run_lock.h"
#include "scorer.h"
#include "util/error.h"
#include "util/sha256.h"
#include "util/text.h"

namespace keval {
namespace {

std::string request_key(const std::string& task, const std::string& sample_id, int turn) {
  return fmt::format("{}/{}/{}", task, sample_id, turn);
}

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

nlohmann::json request_json(const Request& r) {
  nlohmann::json j;
  if (r.kind == RequestKind::loglikelihood) {
    j["type"] = "loglikelihood";
    j["context"] = r.context;
    j["continuations"] = r.continuations;
  } else {
    j["type"] = "generate";
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& m : r.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    j["messages"] = std::move(messages);
    j["max_tokens"] = r.generation.max_tokens;
    j["stop"] = r.generation.stop;
    j["temperature"] = r.generation.temperature;
  }
  return j;
}

std::string flatten(const std::vector<Message>& messages) {
  std::string out;
  for (const auto& m : messages) {
    if (!out.empty()) out += "\n\n";
    out += m.content;
  }
  return out;
}

// One task of a run: its configuration, samples and how its MC items are asked.
struct RunTask {
  const TaskConfig* config = nullptr;
  std::vector<Sample> samples;
  std::string mode;  // loglik | generate | dialogue
};

Request build_request(const RunTask& task, const Sample& s, int turn,
                      const std::unordered_map<std::string, Response>& answers) {
  Request r;
  r.key = request_key(s.task, s.id, turn);
  r.task = task.config;
  r.sample = &s;
  r.turn = turn;
  r.generation = task.config->generation;
  r.generation.temperature = sampling_temperature(*task.config, s);
  if (task.mode == "loglik") {
    r.kind = RequestKind::loglikelihood;
    // lm-evaluation-harness's _encode_pair (lm_eval/api/model.py): the context's trailing
    // whitespace moves onto each continuation, so a token that starts with it (" 예" after
    // "답변: ") belongs to the continuation. The text sent is the same; only the split moves.
    const size_t moved = s.prompt.size() == text::trailing_space_bytes(s.prompt) ? 0 : text::trailing_space_bytes(s.prompt);
    r.context = s.prompt.substr(0, s.prompt.size() - moved);
    r.continuations.reserve(s.choices.size());
    for (const auto& c : s.choices) r.continuations.push_back(s.prompt.substr(s.prompt.size() - moved) + c);
    return r;
  }
  r.kind = RequestKind::generate;
  if (task.mode == "dialogue") {
    if (!task.config->system_prompt.empty()) r.messages.push_back({"system", task.config->system_prompt});
    r.messages.insert(r.messages.end(), task.config->messages_before.begin(), task.config->messages_before.end());
    for (int t = 0; t <= turn; ++t) {
      r.messages.push_back({"user", s.turns[static_cast<size_t>(t)]});
      if (t < turn) r.messages.push_back({"assistant", answers.at(request_key(s.task, s.id, t)).text});
    }
  } else {
    r.messages = chat_messages(*task.config, s);
  }
  r.prompt = task.mode == "dialogue" ? flatten(r.messages) : s.asked();
  return r;
}

// Thrown from a response callback when failures pass --max-failures: stops the backend.
struct RunAborted {};

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

int turns_of(const RunTask& task, const Sample& s) {
  return task.mode == "dialogue" ? static_cast<int>(s.turns.size()) : 1;
}

// Scores one sample from its responses; failed when any turn has no usable response.
StoredScore score_sample(const RunTask& task, const Scorer& scorer, const Sample& s,
                         const std::unordered_map<std::string, Response>& answers,
                         const std::unordered_map<std::string, Response>& failures, bool keep_think) {
  StoredScore out;
  out.task = s.task;
  out.sample_id = s.id;
  ModelOutput output;
  output.loglikelihood = task.mode == "loglik";
  for (int turn = 0; turn < turns_of(task, s); ++turn) {
    std::string key = request_key(s.task, s.id, turn);
    auto it = answers.find(key);
    if (it == answers.end()) {
      auto f = failures.find(key);
      out.status = "failed";
      out.score = {{"failure", f != failures.end() ? to_string(f->second.failure) : "missing"},
                   {"message", f != failures.end() ? f->second.message : "no response stored"},
                   {"turn", turn}};
      return out;
    }
    if (output.loglikelihood) output.logprobs = it->second.logprobs;
    // A reasoning model's <think> block is not its answer; the stored text keeps it.
    else output.texts.push_back(keep_think ? it->second.text : normalize::strip_think(it->second.text));
  }
  SampleScore score = scorer.score(s, output);
  out.status = score.unparsed ? "unparsed" : "scored";
  out.extracted = score.extracted;
  out.score = score.to_json();
  return out;
}

// Adds the judge's verdicts of a sample to its score. A turn without a rating is a judge failure:
// the protocol leaves it out or counts it 0 (meta.judge_failed_turns lists it, n_judge_failed
// counts the sample); a sample the protocol cannot score at all is not scored, never a zero.
void add_judgement(const JudgeProtocol& protocol, const TaskVerdicts& verdicts, const Sample& s,
                   const std::vector<std::string>& texts, StoredScore& out) {
  std::vector<TurnVerdict> turns;
  nlohmann::json failed_turns = nlohmann::json::array(), messages = nlohmann::json::array();
  std::vector<std::string> shown;
  for (size_t turn = 0; turn < texts.size(); ++turn) {
    const std::string key = request_key(s.task, s.id, static_cast<int>(turn));
    turns.push_back(verdicts.verdict(key));
    if (turns.back().rating) {
      shown.push_back(fmt::format("{:g}", *turns.back().rating));
      continue;
    }
    shown.push_back("-");
    auto f = verdicts.failures.find(key);
    failed_turns.push_back(turn);
    messages.push_back(f != verdicts.failures.end() ? f->second : "not judged");
  }
  SampleScore score = SampleScore::from_json(out.score);
  protocol.score(s, texts, turns, score);
  if (!score.values.count("judge_score")) {
    out.status = "judge_failed";
    out.extracted.clear();
    // The scorer's values stay (hangul_share counts every answered sample).
    out.score = judge_failure_score(out.score, messages.empty() ? "not judged" : messages[0].get<std::string>(),
                                    failed_turns.empty() ? 0 : failed_turns[0].get<size_t>());
    return;
  }
  if (!failed_turns.empty()) {
    score.meta["judge_failed_turns"] = failed_turns;
    score.meta["judge_failures"] = messages;
  }
  out.score = score.to_json();
  out.extracted = "judge " + text::join(shown, ", ");
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
  run.status = "running";
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
  m_store.set_run_status(run.id, "running");
  return execute(run, options, true);
}

RunSummary Runner::execute(RunRecord run, const RunOptions& options, bool resuming) {
  auto backend = make_backend(with_identity(options.backend, run.config.at("backend")));
  const nlohmann::json& task_list = run.config.at("tasks");

  // Progress and the --max-failures base come from the configuration: samples are built one
  // task at a time, so a run holds one task's prompts, never the whole run's.
  size_t run_requests = 0;  // every request of the run, stored or not: the base of N%
  for (const auto& t : task_list) run_requests += requests_of(run.config, t);
  // A judged task's turns are each put to the judge too.
  std::unique_ptr<Backend> judge_backend;
  if (options.judge) judge_backend = make_backend(*options.judge);
  size_t total = run_requests;
  for (const auto& t : task_list)
    if (judge_backend && t.contains("judge")) total += requests_of(run.config, t);
  if (resuming)
    for (const auto& t : task_list) {
      for (const auto& r : m_store.load_responses(run.id, t.at("name")))
        if (r.response.ok()) --total;
      if (judge_backend && t.contains("judge"))
        for (const auto& j : m_store.load_judgements(run.id, t.at("name")))
          if (j.status == "ok") --total;
    }
  RunSummary summary;
  summary.missing_answers = find_missing_answers(m_registry, task_list, options, *backend, false, "answer");
  if (judge_backend)
    summary.missing_verdicts = find_missing_answers(m_registry, task_list, options, *judge_backend, true, "judge verdict");
  Progress progress(total, options.show_progress);
  const std::optional<long long> max_failures = failure_limit(options.max_failures, run_requests);
  long long failed_now = 0;
  // Batches end with a drain (the last requests finish while no new ones start): large batches
  // keep that a small share of the time.
  const size_t batch_size = std::max(options.batch_size, static_cast<size_t>(options.backend.concurrency) * 64);

  // A shard evaluates only its own samples; the judge phase of a dialogue task follows them.
  auto keep_shard = [&](std::vector<Sample>& samples) {
    if (!options.shard) return;
    std::erase_if(samples, [&](const Sample& s) { return !in_shard(*options.shard, s.task, s.id); });
  };
  // Cached answers are keyed by the identity the server reported when the run was planned.
  const BackendOptions cache_identity = with_identity(options.backend, run.config.at("backend"));
  // Every write of the run goes through the pacer: short transactions, none held while the
  // backend waits, at most k_commit_interval of answers lost to a crash.
  CommitPacer pacer(m_store, options.commit_every);
  std::unordered_map<std::string, Response> failures;
  // Sends `todo`'s requests for `turn`, a batch at a time, so a run of a million samples never
  // holds a million prompts twice; answers from the cache or the backend land in `answers`.
  auto send = [&](const RunTask& task, const std::vector<const Sample*>& todo, int turn,
                  std::unordered_map<std::string, Response>& answers) {
    for (size_t from = 0; from < todo.size(); from += batch_size) {
      size_t to = std::min(todo.size(), from + batch_size);
      std::vector<Request> pending;
      std::vector<std::string> cache_keys;  // parallel to pending; empty: not cacheable
      for (size_t k = from; k < to; ++k) {
        const Sample& s = *todo[k];
        Request r = build_request(task, s, turn, answers);
        std::string cache_key;
        if (options.use_cache) {
          if (auto payload = backend->cache_payload(r)) {
            cache_key = response_cache_key(cache_identity, *payload);
            if (auto hit = m_store.cache_get(cache_key); hit && hit->ok()) {
              hit->from_cache = true;
              pacer.put_response(run.id, s.task, s.id, turn, request_json(r), *hit);
              answers[r.key] = std::move(*hit);
              progress.advance(1, task.config->name);
              continue;
            }
            // The backend sends this body as it is rather than serialising the request again.
            r.payload = std::move(*payload);
          }
        }
        pending.push_back(std::move(r));
        cache_keys.push_back(std::move(cache_key));
      }
      std::span<const Request> batch(pending);
      backend->answer(batch, [&](size_t i, Response response) {
        const Request& r = batch[i];
        pacer.put_response(run.id, r.sample->task, r.sample->id, r.turn, request_json(r), response);
        if (response.ok() && !cache_keys[i].empty()) pacer.cache_put(cache_keys[i], response, run.id);
        progress.advance(1, task.config->name);
        if (response.ok()) {
          answers[r.key] = std::move(response);
        } else {
          failures[r.key] = std::move(response);
          ++failed_now;
        }
        if (max_failures && failed_now > *max_failures) throw RunAborted{};
      });
    }
  };
  try {
    for (const auto& entry : task_list) {
      RunTask task;
      task.config = m_registry.find_task(entry.at("name"));
      task.mode = entry.at("mode");
      std::unordered_map<std::string, Response> answers;
      if (resuming)
        for (auto& r : m_store.load_responses(run.id, task.config->name))
          if (r.response.ok()) answers[request_key(r.task, r.sample_id, r.turn)] = std::move(r.response);
      if (task.mode != "dialogue") {
        // One request per sample: a chunk of samples is built, sent, scored and freed before
        // the next, so a large task holds its dataset rows and one chunk, not every sample.
        auto scorer = make_scorer(task.config->scorer, task.config->scorer_options);
        SampleBuilder builder = m_registry.sample_builder(*task.config, options.num_fewshot, options.limit, false, options.fewshot_seed);
        const size_t chunk = std::max(options.chunk_size, batch_size);
        for (size_t from = 0; from < builder.size(); from += chunk) {
          task.samples = builder.build(from, std::min(builder.size(), from + chunk));
          keep_shard(task.samples);
          std::vector<const Sample*> todo;
          for (const auto& s : task.samples)
            if (!answers.count(request_key(s.task, s.id, 0))) todo.push_back(&s);
          send(task, todo, 0, answers);
          for (const auto& s : task.samples) {
            StoredScore score = score_sample(task, *scorer, s, answers, failures, options.keep_think);
            if (score.status == "failed") ++summary.n_failed;
            pacer.put_score(run.id, std::move(score));
            // Scored: its response is no longer needed in memory.
            answers.erase(request_key(s.task, s.id, 0));
            failures.erase(request_key(s.task, s.id, 0));
          }
        }
        continue;
      }
      task.samples = m_registry.samples(*task.config, options.num_fewshot, options.limit, options.fewshot_seed);
      keep_shard(task.samples);
      int max_turns = 0;
      for (const auto& s : task.samples) max_turns = std::max(max_turns, turns_of(task, s));
      for (int turn = 0; turn < max_turns; ++turn) {
        // Samples still to ask.
        std::vector<const Sample*> todo;
        for (const auto& s : task.samples) {
          if (turn >= turns_of(task, s)) continue;
          if (answers.count(request_key(s.task, s.id, turn))) continue;
          // A later turn needs the model's own answer to the earlier one.
          if (turn > 0 && !answers.count(request_key(s.task, s.id, turn - 1))) continue;
          todo.push_back(&s);
        }
        send(task, todo, turn, answers);
      }
      // Every turn's answer as the judge sees it (and the protocol scores it); nullopt when a
      // turn has none.
      const AnswersOf answer_texts = [&](const Sample& s) -> std::optional<std::vector<std::string>> {
        std::vector<std::string> texts;
        for (int turn = 0; turn < turns_of(task, s); ++turn) {
          auto it = answers.find(request_key(s.task, s.id, turn));
          if (it == answers.end()) return std::nullopt;
          // As FastChat's API path stores it: verbatim, only a reasoning block removed.
          const std::string& text = it->second.text;
          const bool reasoning = text.find("think>") != std::string::npos;
          texts.push_back(options.keep_think || !reasoning ? text : normalize::strip_think(text));
        }
        return texts;
      };
      // The judge's turn, for a dialogue task that has one.
      std::unique_ptr<JudgeProtocol> protocol;
      TaskVerdicts verdicts;
      if (judge_backend && entry.contains("judge")) {
        protocol = make_judge_protocol(*task.config->judge, m_registry.judge_data(*task.config));
        const BackendOptions judge_identity = with_identity(*options.judge, run.config.at("judge"));
        JudgePhase phase{m_store, run.id, *judge_backend, judge_identity, options.use_cache, progress, pacer};
        verdicts = judge_task(phase, *protocol, *task.config, task.samples, answer_texts);
      }
      // Score the task's samples from their responses, in the same transaction stream.
      auto scorer = make_scorer(task.config->scorer, task.config->scorer_options);
      for (const auto& s : task.samples) {
        StoredScore score = score_sample(task, *scorer, s, answers, failures, options.keep_think);
        if (protocol && score.status != "failed") add_judgement(*protocol, verdicts, s, *answer_texts(s), score);
        if (score.status == "failed") ++summary.n_failed;
        if (score.status == "judge_failed" || score.score.value("meta", nlohmann::json::object()).contains("judge_failed_turns"))
          ++summary.n_judge_failed;
        pacer.put_score(run.id, std::move(score));
      }
    }
    pacer.flush();
  } catch (const RunAborted&) {
    // What was answered stays stored: `--resume` continues from it.
    pacer.flush();
    progress.finish();
    m_store.set_run_status(run.id, "aborted");
    const Response* last = nullptr;
    for (const auto& [key, f] : failures) last = &f;
    throw CheckFailed(fmt::format("run {} stopped: {} requests failed, more than --max-failures {} allows{}; "
                                  "`keval run --resume {} --db {}` continues it",
                                  run.id, failed_now, options.max_failures,
                                  last ? fmt::format(" (e.g. {}: {})", to_string(last->failure), last->message) : "",
                                  run.id, m_store.path()));
  } catch (...) {
    // What was answered stays stored, when the store still takes writes (the failure may be
    // the store's own: a full disk); the first failure is the one reported.
    try {
      pacer.flush();
    } catch (...) {
    }
    progress.finish();
    try {
      m_store.set_run_status(run.id, "failed");
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
  m_store.set_run_status(run.id, summary.n_failed || summary.n_judge_failed ? "incomplete" : "complete");
  summary.run = *m_store.find_run(run.id);
  return summary;
}

} // namespace keval
