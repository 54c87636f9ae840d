#include "judging.h"

#include <map>
#include <span>

#include <fmt/format.h>

#include "sample_key.h"

namespace keval {
namespace {

// A short, single-line excerpt of a verdict for failure messages, cut at a character boundary.
std::string excerpt(const std::string& text) {
  std::string flat;
  for (char c : text) flat += (c == '\n' || c == '\r') ? ' ' : c;
  if (flat.size() <= 200) return flat;
  size_t cut = 200;
  while (cut > 0 && (static_cast<unsigned char>(flat[cut]) & 0xC0) == 0x80) --cut;
  return flat.substr(0, cut) + "…";
}

// FastChat's pair-v2 wording of the pairwise verdict's format.
constexpr const char* k_pair_reminder =
    "Output your final verdict by strictly following this format: \"[[A]]\" if assistant A is better, \"[[B]]\" if "
    "assistant B is better, and \"[[C]]\" for a tie.";

} // namespace

Request judge_request(const TaskConfig& task, const Sample& sample, int turn, std::vector<Message> messages) {
  Request r;
  r.key = SampleKey{sample.task, sample.id, turn}.str();
  r.kind = RequestKind::generate;
  r.task = &task;
  r.sample = &sample;
  r.turn = turn;
  r.messages = std::move(messages);
  for (const auto& m : r.messages) r.prompt += (r.prompt.empty() ? "" : "\n\n") + m.content;
  r.generation.max_tokens = k_judge_max_tokens;
  r.generation.temperature = 0;
  return r;
}

Request with_format_reminder(Request request, const std::string& reminder) {
  // Appended to the last message rather than sent as a message of its own: chat templates that
  // require alternating roles refuse two user messages in a row.
  if (request.messages.empty()) request.messages.push_back({"user", reminder});
  else request.messages.back().content += "\n\n" + reminder;
  request.prompt += (request.prompt.empty() ? "" : "\n\n") + reminder;
  request.payload.clear();  // computed again from the new messages
  return request;
}

nlohmann::json judge_request_json(const Request& r) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : r.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  return {{"type", "judge"},
          {"messages", std::move(messages)},
          {"max_tokens", r.generation.max_tokens},
          {"temperature", r.generation.temperature}};
}

VerdictReading read_verdict(const JudgeProtocol& protocol, const Response& response, int attempt) {
  VerdictReading out;
  if (!response.ok()) {
    out.status = "failed";
    out.failure = fmt::format("judge request failed ({}): {}", to_string(response.failure), response.message);
    return out;
  }
  out.rating = protocol.rating(response.text);
  if (out.rating) {
    out.status = "ok";
    return out;
  }
  out.status = "unparsed";
  out.failure = fmt::format("the judge's verdict gives no rating ({} attempts): \"{}\"", attempt, excerpt(response.text));
  return out;
}

void ask_judge(JudgePhase& phase, std::vector<Request> requests, int attempts, const std::string& reminder,
               const std::function<bool(const Response&)>& readable,
               const std::function<void(const Request&, const Response&, bool, int)>& on_answer) {
  // Round 0 asks every request; later rounds ask again, with the reminder, those whose verdict
  // could not be read.
  for (int round = 0; round < attempts && !requests.empty(); ++round) {
    std::vector<Request> to_send;
    std::vector<std::string> cache_keys;
    for (auto& r : requests) {
      std::string cache_key;
      // Only readable verdicts are cached.
      if (phase.use_cache)
        if (auto payload = phase.backend.cache_payload(r)) {
          cache_key = response_cache_key(phase.options, *payload);
          if (auto hit = phase.store.cache_get(cache_key); hit && hit->ok() && readable(*hit)) {
            on_answer(r, *hit, true, round);
            phase.progress.advance(1, r.task->name + " (judge)");
            continue;
          }
          // The backend sends this body as it is rather than serialising the request again.
          r.payload = std::move(*payload);
        }
      to_send.push_back(std::move(r));
      cache_keys.push_back(std::move(cache_key));
    }
    std::vector<Request> again;
    std::span<const Request> batch(to_send);
    phase.backend.answer(batch, [&](size_t i, Response response) {
      const Request& r = batch[i];
      const bool ok = response.ok() && readable(response);
      if (ok && !cache_keys[i].empty() && !response.from_cache) phase.writes.cache_put(cache_keys[i], response, phase.run_id);
      on_answer(r, response, ok, round);
      // A failed request was already retried by the engine; an unreadable verdict is asked again.
      if (response.ok() && !ok) again.push_back(round == 0 ? with_format_reminder(r, reminder) : r);
      phase.progress.advance(1, r.task->name + " (judge)");
    });
    requests = std::move(again);
  }
}

PairwiseResult judge_pairwise(JudgePhase& phase, const PairwiseProtocol& protocol, const TaskConfig& task,
                              const std::vector<Sample>& samples, const RunAnswers& a, const RunAnswers& b) {
  PairwiseResult out;
  std::vector<Request> requests;
  for (const auto& s : samples) {
    std::vector<std::string> answers_a, answers_b;
    for (int turn = 0; turn < static_cast<int>(s.turns.size()); ++turn) {
      const std::string key = SampleKey{s.task, s.id, turn}.str();
      auto ia = a.find(key);
      auto ib = b.find(key);
      if (ia == a.end() || ib == b.end()) break;
      answers_a.push_back(ia->second);
      answers_b.push_back(ib->second);
    }
    if (answers_a.size() != s.turns.size()) continue;  // a sample one of the runs did not answer
    for (int turn = 0; turn < static_cast<int>(s.turns.size()); ++turn) {
      requests.push_back(judge_request(task, s, 2 * turn, protocol.prompt(s, turn, answers_a, answers_b)));
      requests.push_back(judge_request(task, s, 2 * turn + 1, protocol.prompt(s, turn, answers_b, answers_a)));
    }
  }
  std::map<std::string, std::optional<PairVerdict>> verdicts;  // "<task>/<id>/<2 turn + order>"
  std::map<std::string, std::string> failures;
  ask_judge(
      phase, requests, 2, k_pair_reminder, [](const Response& r) { return pair_verdict(r.text).has_value(); },
      [&](const Request& r, const Response& response, bool readable, int) {
        verdicts[r.key] = readable ? pair_verdict(response.text) : std::nullopt;
        if (!readable)
          failures[r.key] = response.ok() ? "the judge's verdict names no [[A]], [[B]] or [[C]]"
                                          : fmt::format("judge request failed ({}): {}", to_string(response.failure),
                                                        response.message);
      });
  for (size_t i = 0; i + 1 < requests.size(); i += 2) {
    const Request& a_first = requests[i];
    const Request& b_first = requests[i + 1];
    const size_t turn = static_cast<size_t>(a_first.turn / 2);
    if (out.turns.size() <= turn) out.turns.resize(turn + 1);
    PairwiseTally& tally = out.turns[turn];
    const auto& v1 = verdicts[a_first.key];
    const auto& v2 = verdicts[b_first.key];
    if (!v1 || !v2) {
      ++tally.judge_failed;
      ++out.overall.judge_failed;
      const std::string& why = !v1 ? failures[a_first.key] : failures[b_first.key];
      out.failures.push_back(fmt::format("{} id {} turn {}: {}", a_first.sample->task, a_first.sample->id, turn + 1, why));
      continue;
    }
    switch (combine_orders(*v1, *v2)) {
    case PairOutcome::win: ++tally.win, ++out.overall.win; break;
    case PairOutcome::tie: ++tally.tie, ++out.overall.tie; break;
    case PairOutcome::loss: ++tally.loss, ++out.overall.loss; break;
    }
  }
  return out;
}

} // namespace keval
