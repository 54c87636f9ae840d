#include "judging.h"

#include <map>
#include <span>

#include <fmt/format.h>


namespace keval {
namespace {

std::string verdict_key(const std::string& task, const std::string& sample_id, int turn) {
  return fmt::format("{}/{}/{}", task, sample_id, turn);
}

nlohmann::json judge_request_json(const Request& r) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : r.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  return {{"type", "judge"},
          {"messages", std::move(messages)},
          {"max_tokens", r.generation.max_tokens},
          {"temperature", r.generation.temperature}};
}

// A short, single-line excerpt of a verdict for failure messages, cut at a character boundary.
std::string excerpt(const std::string& text) {
  std::string flat;
  for (char c : text) flat += (c == '\n' || c == '\r') ? ' ' : c;
  if (flat.size() <= 200) return flat;
  size_t cut = 200;
  while (cut > 0 && (static_cast<unsigned char>(flat[cut]) & 0xC0) == 0x80) --cut;
  return flat.substr(0, cut) + "…";
}

} // namespace

TaskVerdicts judge_task(JudgePhase& phase, const JudgeProtocol& protocol, const TaskConfig& task,
                        const std::vector<Sample>& samples, const AnswersOf& answers_of) {
  TaskVerdicts out;
  std::map<std::string, int> next_attempt;  // attempts are numbered on from what a killed run stored
  for (const auto& j : phase.store.load_judgements(phase.run_id, task.name)) {
    const std::string key = verdict_key(j.task, j.sample_id, j.turn);
    next_attempt[key] = std::max(next_attempt[key], j.attempt + 1);
    if (j.status == "ok" && j.rating) out.ratings[key] = *j.rating;
  }

  struct Pending {
    const Sample* sample;
    int turn;
    std::vector<std::string> answers;
  };
  std::vector<Pending> pending;
  for (const auto& s : samples) {
    auto answers = answers_of(s);
    if (!answers) continue;
    for (int turn = 0; turn < static_cast<int>(s.turns.size()); ++turn)
      if (!out.ratings.count(verdict_key(s.task, s.id, turn))) pending.push_back({&s, turn, *answers});
  }

  // Round 0 asks every pending turn; round 1 asks again those whose verdict had no rating.
  for (int round = 0; round < 2 && !pending.empty(); ++round) {
    std::vector<Request> requests;
    std::vector<std::string> cache_keys;
    std::vector<const Pending*> asked;
    for (const auto& p : pending) {
      Request r;
      r.key = verdict_key(p.sample->task, p.sample->id, p.turn);
      r.kind = RequestKind::generate;
      r.task = &task;
      r.sample = p.sample;
      r.turn = p.turn;
      r.messages = protocol.prompt(*p.sample, p.turn, p.answers);
      for (const auto& m : r.messages) r.prompt += (r.prompt.empty() ? "" : "\n\n") + m.content;
      r.generation.max_tokens = k_judge_max_tokens;
      r.generation.temperature = 0;
      std::string cache_key;
      // Only readable verdicts are cached, so the second round never finds its first answer there.
      if (phase.use_cache && round == 0)
        if (auto payload = phase.backend.cache_payload(r)) {
          cache_key = response_cache_key(phase.options, *payload);
          if (auto hit = phase.store.cache_get(cache_key); hit && hit->ok())
            if (auto rating = protocol.rating(hit->text)) {
              StoredJudgement j{p.sample->task, p.sample->id, p.turn, next_attempt[r.key]++, "ok", *hit, rating};
              phase.store.put_judgement(phase.run_id, j, judge_request_json(r));
              out.ratings[r.key] = *rating;
              phase.progress.advance(1, task.name + " (judge)");
              phase.stored();
              continue;
            }
        }
      requests.push_back(std::move(r));
      cache_keys.push_back(std::move(cache_key));
      asked.push_back(&p);
    }
    std::vector<Pending> again;
    std::span<const Request> batch(requests);
    phase.backend.answer(batch, [&](size_t i, Response response) {
      const Request& r = batch[i];
      StoredJudgement j{r.sample->task, r.sample->id, r.turn, next_attempt[r.key]++, "failed", response, std::nullopt};
      if (response.ok()) {
        j.rating = protocol.rating(response.text);
        j.status = j.rating ? "ok" : "unparsed";
      }
      phase.store.put_judgement(phase.run_id, j, judge_request_json(r));
      if (j.rating) {
        out.ratings[r.key] = *j.rating;
        out.failures.erase(r.key);
        if (!cache_keys[i].empty() && !response.from_cache) phase.store.cache_put(cache_keys[i], response);
      } else if (response.ok()) {
        out.failures[r.key] = fmt::format("the judge's verdict gives no rating ({} attempts): \"{}\"", round + 1,
                                          excerpt(response.text));
        again.push_back(*asked[i]);
      } else {
        // The engine has already retried what can be retried.
        out.failures[r.key] = fmt::format("judge request failed ({}): {}", to_string(response.failure), response.message);
      }
      phase.progress.advance(1, task.name + " (judge)");
      phase.stored();
    });
    pending = std::move(again);
  }
  return out;
}

} // namespace keval
