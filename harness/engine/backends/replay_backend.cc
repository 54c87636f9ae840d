// `replay`: answers from recorded responses (docs/formats.md, "Replay file"), one JSON object a line:
//   {"task": "kobest_copa", "id": "…", "response": "정답은 2번입니다."}
//   {"task": "logickor", "id": "…", "responses": ["turn 1 answer", "turn 2 answer"]}
//   {"task": "kobest_copa", "id": "…", "logprobs": [-1.2, -0.4]}
// A sample with no line fails (kind `missing`): it is never scored as a wrong answer.
// As a judge (--judge-backend replay --judge-responses FILE) it answers each turn's judge request
// from the line's `judge` array instead:
//   {"task": "logickor", "id": "13", "judge": ["평가: …\n점수: 9", "평가: …\n점수: 7"]}
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "backend.h"
#include "json_line.h"
#include "error.h"
#include "line_reader.h"
#include "text.h"

namespace keval {
namespace {

struct ReplayLine {
  std::vector<std::string> responses;  // the model's, or the judge's when the backend is a judge
  std::optional<std::vector<double>> logprobs;
  size_t line = 0;
};

class ReplayBackend final : public Backend {
public:
  ReplayBackend(const std::string& path, bool judge) : m_path(path), m_judge(judge) {
    if (path.empty())
      throw InputError(judge ? "--judge-backend replay needs --judge-responses FILE.jsonl"
                             : "--backend replay needs --responses FILE.jsonl");
    // Line by line with a cap on a line's length: a line of hundreds of MB fails at once.
    LineReader reader(path);
    std::string line;
    while (reader.next(line))
      if (!text::trim(line).empty()) parse_line(line, reader.line_number());
  }

  std::string kind() const override { return "replay"; }
  bool supports_loglikelihood(std::string_view task) const override {
    return m_tasks_with_logprobs.count(std::string(task)) > 0;
  }

  std::optional<bool> has_answer(const std::string& task, const std::string& sample_id) const override {
    return m_lines.count(task + "/" + sample_id) > 0;
  }
  std::string answers_file() const override { return m_path; }

  void answer(std::span<const Request> batch, const std::function<void(size_t, Response)>& on_response) override {
    for (size_t i = 0; i < batch.size(); ++i) on_response(i, answer_one(batch[i]));
  }

private:
  void parse_line(std::string_view line, size_t line_no) {
    auto fail = [&](const std::string& why) { return InputError(fmt::format("{}:{}: {}", m_path, line_no, why)); };
    std::string error;
    std::optional<nlohmann::json> parsed = parse_json_line(line, &error);
    if (!parsed) throw fail(fmt::format("malformed JSON: {}", error));
    nlohmann::json& j = *parsed;
    if (!j.is_object()) throw fail("expected a JSON object");
    static const std::set<std::string> allowed = {"task", "id", "response", "responses", "logprobs", "judge"};
    for (const auto& [key, value] : j.items())
      if (!allowed.count(key)) throw fail(fmt::format("unknown field '{}' (allowed: task, id, response, responses, logprobs, judge)", key));
    if (!j.contains("task") || !j["task"].is_string()) throw fail("field 'task' (a string) is missing");
    if (!j.contains("id") || !(j["id"].is_string() || j["id"].is_number_integer()))
      throw fail("field 'id' (a string) is missing");
    std::string id = j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump();
    ReplayLine entry;
    entry.line = line_no;
    if (m_judge) {
      if (!j.contains("judge")) return;  // a line for the model only
      if (!j["judge"].is_array()) throw fail("field 'judge' must be a list of strings (one verdict a turn)");
      for (const auto& r : j["judge"]) {
        if (!r.is_string()) throw fail("field 'judge' must be a list of strings (one verdict a turn)");
        entry.responses.push_back(r.get<std::string>());
      }
    } else if (j.contains("response")) {
      if (!j["response"].is_string()) throw fail("field 'response' must be a string");
      entry.responses.push_back(j["response"].get<std::string>());
    }
    if (!m_judge && j.contains("responses")) {
      if (!j["responses"].is_array()) throw fail("field 'responses' must be a list of strings");
      for (const auto& r : j["responses"]) {
        if (!r.is_string()) throw fail("field 'responses' must be a list of strings");
        entry.responses.push_back(r.get<std::string>());
      }
    }
    if (j.contains("logprobs")) {
      if (!j["logprobs"].is_array()) throw fail("field 'logprobs' must be a list of numbers");
      std::vector<double> values;
      for (const auto& v : j["logprobs"]) {
        if (!is_logprob(v))
          throw fail(fmt::format("field 'logprobs' must hold log-probabilities (finite numbers <= 0), not {}", v.dump()));
        values.push_back(v.get<double>());
      }
      entry.logprobs = std::move(values);
      m_tasks_with_logprobs.insert(j["task"].get<std::string>());
    }
    if (!m_judge && entry.responses.empty() && !entry.logprobs && !j.contains("judge"))
      throw fail("a line needs 'response', 'responses' or 'logprobs'");
    std::string key = j["task"].get<std::string>() + "/" + id;
    auto [it, inserted] = m_lines.emplace(key, std::move(entry));
    if (!inserted) throw fail(fmt::format("task '{}' id '{}' already appears on line {}", j["task"].get<std::string>(), id, it->second.line));
  }

  Response answer_one(const Request& r) const {
    std::string key = r.sample->task + "/" + r.sample->id;
    auto it = m_lines.find(key);
    if (it == m_lines.end())
      return Response::failed(FailureKind::missing, fmt::format("no line for task '{}' id '{}' in {}", r.sample->task, r.sample->id, m_path));
    const ReplayLine& line = it->second;
    Response out;
    if (r.kind == RequestKind::loglikelihood) {
      if (!line.logprobs)
        return Response::failed(FailureKind::missing, fmt::format("{}:{}: no 'logprobs' for a log-likelihood request", m_path, line.line));
      if (line.logprobs->size() != r.continuations.size())
        return Response::failed(FailureKind::malformed, fmt::format("{}:{}: {} logprobs for {} choices", m_path, line.line,
                                                                    line.logprobs->size(), r.continuations.size()));
      out.logprobs = *line.logprobs;
      return out;
    }
    if (static_cast<size_t>(r.turn) >= line.responses.size())
      return Response::failed(FailureKind::missing, fmt::format("{}:{}: no {} for turn {}", m_path, line.line,
                                                                m_judge ? "judge verdict" : "response", r.turn + 1));
    out.text = line.responses[static_cast<size_t>(r.turn)];
    return out;
  }

  std::string m_path;
  bool m_judge = false;
  std::unordered_map<std::string, ReplayLine> m_lines;
  std::set<std::string> m_tasks_with_logprobs;
};

} // namespace

std::unique_ptr<Backend> make_replay_backend(const BackendOptions& options) {
  return std::make_unique<ReplayBackend>(options.responses_file, options.judge);
}

} // namespace keval
