#include "dispatch.h"

#include <algorithm>
#include <deque>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

#include "judging.h"
#include "sample_key.h"
#include "scoring.h"
#include "secrets.h"
#include "text.h"

namespace keval {
namespace {

// keval's description of a request, stored when the backend has no body of its own (embedded
// backends: random, replay).
nlohmann::json describe_request(const Request& r) {
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

// What is stored as a request: the exact body sent (its payload, overrides such as --max-tokens
// included, secrets redacted), so a stored row can be sent again as it is; else `described`.
nlohmann::json stored_request(const Request& r, nlohmann::json (*describe)(const Request&)) {
  if (!r.payload.empty()) {
    nlohmann::json body = nlohmann::json::parse(secrets::redact(r.payload), nullptr, false);
    if (!body.is_discarded()) return body;
  }
  return describe(r);
}

std::string flatten(const std::vector<Message>& messages) {
  std::string out;
  for (const auto& m : messages) {
    if (!out.empty()) out += "\n\n";
    out += m.content;
  }
  return out;
}

// The rating and attempts of one judged turn, as a killed run left them.
struct StoredJudging {
  std::optional<double> rating;
  int next_attempt = 0;  // attempts are numbered on from what is stored
};

// The run's samples in order (task after task, dataset order), only the shard's, built a chunk at
// a time; with what the database already holds for the task being built.
class SampleSource {
public:
  SampleSource(TaskRegistry& registry, Store& store, const std::vector<DispatchTask>& tasks, const DispatchOptions& options)
      : m_registry(registry), m_store(store), m_tasks(tasks), m_options(options) {}

  // The next sample and its task's index; false when the run has no more.
  bool next(Sample& out, size_t& task) {
    for (;;) {
      if (!m_built.empty()) {
        out = std::move(m_built.front());
        m_built.pop_front();
        task = m_task;
        return true;
      }
      if (m_builder && m_row < m_builder->size()) {
        const size_t to = std::min(m_builder->size(), m_row + std::max<size_t>(m_options.chunk_size, 1));
        for (auto& s : m_builder->build(m_row, to))
          if (!m_options.shard || in_shard(*m_options.shard, s.task, s.id)) m_built.push_back(std::move(s));
        m_row = to;
        continue;
      }
      const size_t next_task = m_builder ? m_task + 1 : 0;
      m_builder.reset();  // its rows are freed before the next task's are read
      if (next_task >= m_tasks.size()) return false;
      open(next_task);
    }
  }

  // A stored ok answer (resume), taken out of the source.
  std::optional<Response> take_answer(const SampleKey& key) {
    auto it = m_answers.find(key);
    if (it == m_answers.end()) return std::nullopt;
    std::optional<Response> out = std::move(it->second);
    m_answers.erase(it);
    return out;
  }
  StoredJudging take_judging(const SampleKey& key) {
    auto it = m_judging.find(key);
    if (it == m_judging.end()) return {};
    StoredJudging out = it->second;
    m_judging.erase(it);
    return out;
  }

private:
  void open(size_t task) {
    const DispatchTask& t = m_tasks[task];
    m_task = task;
    m_row = 0;
    m_answers.clear();
    m_judging.clear();
    if (m_options.resuming) {
      for (auto& r : m_store.load_responses(m_options.run_id, t.config->name))
        if (r.response.ok()) m_answers[SampleKey{r.task, r.sample_id, r.turn}] = std::move(r.response);
      if (t.judge)
        for (const auto& j : m_store.load_judgements(m_options.run_id, t.config->name)) {
          StoredJudging& stored = m_judging[SampleKey{j.task, j.sample_id, j.turn}];
          stored.next_attempt = std::max(stored.next_attempt, j.attempt + 1);
          if (j.status == "ok" && j.rating) stored.rating = j.rating;
        }
    }
    m_builder.emplace(m_registry.sample_builder(*t.config, m_options.num_fewshot, m_options.limit, false,
                                                m_options.fewshot_seed));
  }

  TaskRegistry& m_registry;
  Store& m_store;
  const std::vector<DispatchTask>& m_tasks;
  const DispatchOptions& m_options;
  size_t m_task = 0;
  std::optional<SampleBuilder> m_builder;
  size_t m_row = 0;
  std::deque<Sample> m_built;
  std::unordered_map<SampleKey, Response> m_answers;
  std::unordered_map<SampleKey, StoredJudging> m_judging;
};

// One sample on its way: its answers and verdicts so far.
struct SampleWork {
  Sample sample;
  size_t task = 0;
  size_t order = 0;                               // position in the run: scores are stored in this order
  int turns = 1;
  std::vector<std::optional<Response>> answers;   // ok answers, by turn
  std::optional<SampleFailure> failure;
  std::string cache_key;                          // of the model request in flight ("": not cached)
  std::vector<std::string> texts;                 // the answers as scored and judged
  std::vector<JudgedTurn> judged;                 // by turn
  std::vector<int> next_attempt;                  // by turn: the attempt number stored next
  std::vector<int> asked;                         // by turn: the judge's attempts by this process
  std::vector<std::string> judge_cache_keys;      // by turn, of the judge request in flight
  int judging = 0;                                // turns whose verdict is still awaited
};

enum class Stage { model, judge };

// A response ready to be handled: from a stream, or from the cache.
struct Arrival {
  Stage stage;
  Request request;
  Response response;
  bool cached = false;
};

class Dispatcher {
public:
  Dispatcher(TaskRegistry& registry, Store& store, CommitPacer& writes, Progress& progress,
             std::vector<DispatchTask>& tasks, const DispatchOptions& options, const DispatchEndpoint& model,
             const std::optional<DispatchEndpoint>& judge)
      : m_store(store), m_writes(writes), m_progress(progress), m_tasks(tasks), m_options(options), m_model(model),
        m_judge(judge), m_source(registry, store, tasks, options) {
    m_model_stream = m_model.backend->open_stream(std::max<size_t>(m_model.concurrency, 1));
    size_t slots = m_model.concurrency;
    if (m_judge) {
      m_judge_stream = m_judge->backend->open_stream(std::max<size_t>(m_judge->concurrency, 1));
      slots += m_judge->concurrency;
    }
    // Samples started and not yet scored, at most: enough to keep every slot busy while some
    // wait on a slow answer, never the whole run.
    m_max_active = std::max<size_t>(4 * slots, 64);
  }

  DispatchCounts run() {
    for (;;) {
      while (!m_arrived.empty()) {
        Arrival a = std::move(m_arrived.front());
        m_arrived.pop_front();
        handle(std::move(a));
      }
      fill();
      if (!m_arrived.empty()) continue;
      const bool model_busy = m_model_stream->in_flight() > 0;
      const bool judge_busy = m_judge_stream && m_judge_stream->in_flight() > 0;
      if (!model_busy && !judge_busy) {
        if (m_active.empty() && m_source_done) break;
        throw std::logic_error(fmt::format("dispatch: {} samples in progress and no request in flight", m_active.size()));
      }
      // Both busy: each polled briefly in turn, so neither's answers wait on the other's. An
      // answer is handled (stored, its sample moved on) as it is handed over; handling never
      // submits, so a stream is never fed from inside its own poll.
      const double wait = model_busy && judge_busy ? 0.005 : 0.05;
      if (model_busy)
        m_model_stream->poll(wait, [&](Request r, Response response) {
          handle({Stage::model, std::move(r), std::move(response), false});
        });
      if (judge_busy)
        m_judge_stream->poll(wait, [&](Request r, Response response) {
          handle({Stage::judge, std::move(r), std::move(response), false});
        });
    }
    if (!m_waiting_scores.empty()) throw std::logic_error("dispatch: scores left unwritten");
    return m_counts;
  }

private:
  // Hands requests to every free slot: follow-ups (next turns, verdicts) first, then new samples.
  void fill() {
    while (m_model_stream->free_slots() > 0) {
      if (!m_model_queue.empty()) {
        m_model_stream->submit(std::move(m_model_queue.front()));
        m_model_queue.pop_front();
        continue;
      }
      if (m_active.size() >= m_max_active || !start_next_sample()) break;
    }
    while (m_judge_stream && m_judge_stream->free_slots() > 0 && !m_judge_queue.empty()) {
      m_judge_stream->submit(std::move(m_judge_queue.front()));
      m_judge_queue.pop_front();
    }
  }

  bool start_next_sample() {
    if (m_source_done) return false;
    auto work = std::make_unique<SampleWork>();
    if (!m_source.next(work->sample, work->task)) {
      m_source_done = true;
      return false;
    }
    const DispatchTask& task = m_tasks[work->task];
    work->order = m_next_order++;
    work->turns = task.mode == AskMode::dialogue ? static_cast<int>(work->sample.turns.size()) : 1;
    const size_t turns = static_cast<size_t>(work->turns);
    work->answers.resize(turns);
    for (int t = 0; t < work->turns; ++t)
      work->answers[static_cast<size_t>(t)] = m_source.take_answer(SampleKey{work->sample.task, work->sample.id, t});
    if (task.judge) {
      work->judged.resize(turns);
      work->next_attempt.resize(turns);
      work->asked.resize(turns);
      work->judge_cache_keys.resize(turns);
      for (int t = 0; t < work->turns; ++t) {
        const StoredJudging stored = m_source.take_judging(SampleKey{work->sample.task, work->sample.id, t});
        work->judged[static_cast<size_t>(t)].verdict.rating = stored.rating;
        work->next_attempt[static_cast<size_t>(t)] = stored.next_attempt;
      }
    }
    SampleWork& w = *work;
    m_active.emplace(&w.sample, std::move(work));
    ask_next_turn(w);
    return true;
  }

  // Asks the first turn without an answer; when every turn has one, the model is done.
  void ask_next_turn(SampleWork& w) {
    for (int t = 0; t < w.turns; ++t)
      if (!w.answers[static_cast<size_t>(t)]) return ask_model(w, t);
    model_done(w);
  }

  void ask_model(SampleWork& w, int turn) {
    const DispatchTask& task = m_tasks[w.task];
    Request r = build_request(*task.config, task.mode, w.sample, turn, w.answers);
    w.cache_key.clear();
    if (auto payload = m_model.backend->cache_payload(r)) {
      // The backend sends this body as it is rather than serialising the request again.
      r.payload = std::move(*payload);
      if (m_options.use_cache) {
        w.cache_key = response_cache_key(m_model.identity, r.payload);
        if (auto hit = m_store.cache_get(w.cache_key); hit && hit->ok()) {
          hit->from_cache = true;
          m_arrived.push_back({Stage::model, std::move(r), std::move(*hit), true});
          return;
        }
      }
    }
    m_model_queue.push_back(std::move(r));
  }

  void handle(Arrival a) {
    auto it = m_active.find(a.request.sample);
    if (it == m_active.end()) throw std::logic_error("dispatch: an answer for no sample in progress");
    SampleWork& w = *it->second;
    if (a.stage == Stage::model) on_model_answer(w, std::move(a));
    else on_verdict(w, std::move(a));
  }

  void on_model_answer(SampleWork& w, Arrival a) {
    const Request& r = a.request;
    Response& response = a.response;
    const std::string& name = m_tasks[w.task].config->name;
    if (response.ok() && !a.cached && !w.cache_key.empty()) m_writes.cache_put(w.cache_key, response, m_options.run_id);
    // One body with no secret in it is stored as the text it was sent as: no parse, no dump again
    // (several bodies, a line each, as TGI's scoring sends, are described instead).
    const bool one_body = !r.payload.empty() && r.payload.find('\n') == std::string::npos;
    if (std::string body = one_body ? secrets::redact(r.payload) : std::string(); one_body && body == r.payload)
      m_writes.put_response_text(m_options.run_id, w.sample.task, w.sample.id, r.turn, std::move(body), response);
    else
      m_writes.put_response(m_options.run_id, w.sample.task, w.sample.id, r.turn, stored_request(r, describe_request), response);
    m_progress.advance(1, name);
    if (!response.ok()) {
      ++m_failed_requests;
      if (m_options.max_failures && m_failed_requests > *m_options.max_failures)
        throw RunAborted{m_failed_requests, response};
      w.failure = SampleFailure{r.turn, to_string(response.failure), response.message};
      return finish(w);
    }
    w.answers[static_cast<size_t>(r.turn)] = std::move(response);
    ask_next_turn(w);
  }

  // Every turn answered: the answers as scored and judged, then the judge or the score.
  void model_done(SampleWork& w) {
    const DispatchTask& task = m_tasks[w.task];
    if (task.mode != AskMode::loglik)
      for (const auto& answer : w.answers) w.texts.push_back(answer_text(answer->text, m_options.think));
    if (!task.judge) return finish(w);
    for (int t = 0; t < w.turns; ++t)
      if (!w.judged[static_cast<size_t>(t)].verdict.rating) ++w.judging;
    if (w.judging == 0) return finish(w);
    for (int t = 0; t < w.turns; ++t)
      if (!w.judged[static_cast<size_t>(t)].verdict.rating) ask_verdict(w, t);
  }

  // Puts a turn to the judge; after an unreadable verdict, with a reminder of the format.
  void ask_verdict(SampleWork& w, int turn) {
    const DispatchTask& task = m_tasks[w.task];
    const size_t t = static_cast<size_t>(turn);
    Request r = judge_request(*task.config, w.sample, turn, task.judge->prompt(w.sample, turn, w.texts));
    if (w.asked[t] > 0) r = with_format_reminder(std::move(r), task.judge->format_reminder());
    w.judge_cache_keys[t].clear();
    if (auto payload = m_judge->backend->cache_payload(r)) {
      r.payload = std::move(*payload);
      if (m_options.use_cache) {
        w.judge_cache_keys[t] = response_cache_key(m_judge->identity, r.payload);
        // Only readable verdicts are cached, and only a readable one is taken from the cache.
        if (auto hit = m_store.cache_get(w.judge_cache_keys[t]); hit && hit->ok() && task.judge->rating(hit->text)) {
          m_arrived.push_back({Stage::judge, std::move(r), std::move(*hit), true});
          return;
        }
      }
    }
    m_judge_queue.push_back(std::move(r));
  }

  void on_verdict(SampleWork& w, Arrival a) {
    const DispatchTask& task = m_tasks[w.task];
    const Request& r = a.request;
    const size_t t = static_cast<size_t>(r.turn);
    const int attempt = ++w.asked[t];
    const VerdictReading reading = read_verdict(*task.judge, a.response, attempt);
    const std::string& cache_key = w.judge_cache_keys[t];
    if (reading.rating && !a.cached && !cache_key.empty()) m_writes.cache_put(cache_key, a.response, m_options.run_id);
    JudgedTurn& judged = w.judged[t];
    const bool answered = a.response.ok();
    StoredJudgement j{w.sample.task, w.sample.id, r.turn, w.next_attempt[t]++, reading.status, std::move(a.response),
                      reading.rating};
    m_writes.put_judgement(m_options.run_id, std::move(j), stored_request(r, judge_request_json));
    m_progress.advance(1, task.config->name + " (judge)");
    judged.verdict.rating = reading.rating;
    judged.verdict.unreadable = answered && !reading.rating;
    judged.failure = reading.failure;
    // A failed request was already retried by the engine; an unreadable verdict is asked again.
    if (judged.verdict.unreadable && attempt < task.judge->attempts()) return ask_verdict(w, r.turn);
    if (--w.judging == 0) finish(w);
  }

  // Scores the sample, stores its score (in the run's order) and frees it.
  void finish(SampleWork& w) {
    const DispatchTask& task = m_tasks[w.task];
    SampleAnswers answers;
    answers.mode = task.mode;
    answers.failure = w.failure;
    if (!w.failure) {
      for (int t = 0; t < w.turns && !answers.failure; ++t)
        if (!w.answers[static_cast<size_t>(t)]) answers.failure = SampleFailure{t, "missing", "no response stored"};
    }
    if (task.mode == AskMode::loglik && !answers.failure) answers.logprobs = w.answers[0]->logprobs;
    answers.texts = std::move(w.texts);
    StoredScore score = score_sample(*task.scorer, w.sample, answers);
    const bool failed = parse_sample_status(score.status) == SampleStatus::failed;
    if (task.judge && !failed) add_judgement(*task.judge, w.sample, answers.texts, w.judged, score);
    if (failed) ++m_counts.n_failed;
    if (judge_failed(score)) ++m_counts.n_judge_failed;
    store_in_order(w.order, std::move(score));
    m_active.erase(&w.sample);
  }

  // Scores are stored in the run's order (the site lists samples as stored), whatever order their
  // answers came in: a score waits here, small, until the ones before it are stored.
  void store_in_order(size_t order, StoredScore score) {
    m_waiting_scores.emplace(order, std::move(score));
    while (!m_waiting_scores.empty() && m_waiting_scores.begin()->first == m_next_score) {
      m_writes.put_score(m_options.run_id, std::move(m_waiting_scores.begin()->second));
      m_waiting_scores.erase(m_waiting_scores.begin());
      ++m_next_score;
    }
  }

  Store& m_store;
  CommitPacer& m_writes;
  Progress& m_progress;
  std::vector<DispatchTask>& m_tasks;
  const DispatchOptions& m_options;
  const DispatchEndpoint& m_model;
  const std::optional<DispatchEndpoint>& m_judge;
  SampleSource m_source;
  bool m_source_done = false;
  std::unique_ptr<RequestStream> m_model_stream;
  std::unique_ptr<RequestStream> m_judge_stream;
  std::deque<Request> m_model_queue;  // asked, waiting for a slot
  std::deque<Request> m_judge_queue;
  std::deque<Arrival> m_arrived;      // answered, waiting to be handled
  std::unordered_map<const Sample*, std::unique_ptr<SampleWork>> m_active;
  size_t m_max_active = 64;
  size_t m_next_order = 0;
  size_t m_next_score = 0;
  std::map<size_t, StoredScore> m_waiting_scores;
  long long m_failed_requests = 0;
  DispatchCounts m_counts;
};

} // namespace

Request build_request(const TaskConfig& task, AskMode mode, const Sample& s, int turn,
                      const std::vector<std::optional<Response>>& answers) {
  Request r;
  r.key = SampleKey{s.task, s.id, turn}.str();
  r.task = &task;
  r.sample = &s;
  r.turn = turn;
  r.generation = task.generation;
  r.generation.temperature = sampling_temperature(task, s);
  if (mode == AskMode::loglik) {
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
  if (mode == AskMode::dialogue) {
    if (!task.system_prompt.empty()) r.messages.push_back({"system", task.system_prompt});
    r.messages.insert(r.messages.end(), task.messages_before.begin(), task.messages_before.end());
    for (int t = 0; t <= turn; ++t) {
      r.messages.push_back({"user", s.turns[static_cast<size_t>(t)]});
      if (t < turn) r.messages.push_back({"assistant", answers.at(static_cast<size_t>(t))->text});
    }
    r.prompt = flatten(r.messages);
  } else {
    r.messages = chat_messages(task, s);
    r.prompt = s.asked();
  }
  return r;
}

DispatchCounts dispatch_run(TaskRegistry& registry, Store& store, CommitPacer& writes, Progress& progress,
                            std::vector<DispatchTask>& tasks, const DispatchOptions& options,
                            const DispatchEndpoint& model, const std::optional<DispatchEndpoint>& judge) {
  Dispatcher dispatcher(registry, store, writes, progress, tasks, options, model, judge);
  return dispatcher.run();
}

} // namespace keval
