// Judge protocol `logickor_keval`: keval's own Korean judge prompt for LogicKor, an alternative
// to LogicKor's evaluator (`logickor`, judge_logickor.cc), kept so runs judged with it before stay
// comparable with each other (never with LogicKor's leaderboard). The single-turn judgement sees
// the first question and answer; the multi-turn one sees the whole conversation and judges the
// answer to the follow-up. References, when the row has one for a turn, are shown. The judge
// answers "평가: …" then "점수: N"; the number after "점수:" (or "점수：") in 0..10 is the rating
// (asterisks ignored). Values as `logickor` (score.py's rule: logickor_score).
#include <fmt/format.h>

#include "judge.h"
#include "sha256.h"

namespace keval::detail {
namespace {

// Bump when a prompt below changes: the version is recorded with every judged run.
// 2: named logickor_keval; a verdict that stays unreadable counts 0 (LogicKor score.py).
constexpr int k_version = 2;

constexpr const char* k_rules_common =
    "# 평가 원칙\n"
    "1. 답변이 질문의 요구 사항을 얼마나 빠짐없이 충족하는지 구체적으로 분석한다.\n"
    "2. 답변에서 빠졌거나 부족한 부분이 무엇인지 구체적으로 지적한다.\n"
    "3. 답변이 길거나 짧다는 이유만으로 점수를 올리거나 내리지 않는다.\n"
    "4. 참고 자료가 주어지면 그 내용을 기준으로 정확성을 판단한다.\n";

constexpr const char* k_rules_language =
    "# 언어 조건\n"
    "- 답변은 한국어로 작성되어야 한다. 질문이 영어 답변을 명시적으로 요구한 경우에만 영어 답변을 인정한다.\n"
    "- 조건에 맞지 않는 언어로 답한 경우 내용과 관계없이 0점을 준다.\n"
    "- 언어 조건을 지킨 것 자체로는 점수를 더하지 않는다.\n";

constexpr const char* k_output =
    "# 출력 형식\n"
    "평가는 위 원칙에 따라 4~5개의 문장으로 쓰고, 점수는 1에서 10 사이의 정수로 준다. 다른 말 없이 정확히 다음 형식으로만 답한다.\n"
    "평가: <평가 내용>\n"
    "점수: <숫자>";

std::string system_prompt(bool multi_turn) {
  std::string out = multi_turn
                        ? "당신은 한국어 언어 모델이 앞선 대화에 이어지는 후속 질문에 한 답변을 엄격하고 공정하게 평가하는 "
                          "심사위원이다. 아래 원칙을 반드시 따른다.\n\n"
                        : "당신은 한국어 언어 모델이 질문에 한 답변을 엄격하고 공정하게 평가하는 심사위원이다. 아래 원칙을 "
                          "반드시 따른다.\n\n";
  out += k_rules_common;
  if (multi_turn) out += "5. 후속 질문에 대한 답변이 앞선 대화의 내용과 어긋나지 않고 일관되는지 확인한다.\n";
  out += "\n";
  out += k_rules_language;
  out += "\n";
  out += multi_turn ? "# 평가 대상\n앞선 대화는 맥락으로만 참고하고, 후속 질문에 대한 답변을 평가한다.\n\n"
                    : "# 평가 대상\n주어진 질문에 대한 답변을 평가한다.\n\n";
  out += k_output;
  return out;
}

std::string reference_of(const Sample& sample, const std::string& field, int turn) {
  if (field.empty()) return "";
  const auto it = sample.fields.find(field);
  if (it == sample.fields.end() || !it->is_array() || static_cast<size_t>(turn) >= it->size()) return "";
  const auto& r = (*it)[static_cast<size_t>(turn)];
  if (r.is_null()) return "";
  return r.is_string() ? r.get<std::string>() : r.dump();
}

class LogicKorProtocol final : public JudgeProtocol {
public:
  explicit LogicKorProtocol(JudgeSpec spec) : m_spec(std::move(spec)) {}

  std::vector<Message> prompt(const Sample& sample, int turn, const std::vector<std::string>& answers) const override {
    auto at = [](const std::vector<std::string>& v, int i) { return i < static_cast<int>(v.size()) ? v[static_cast<size_t>(i)] : ""; };
    std::string user = "다음 내용을 평가 원칙에 따라 평가하라. 특히 답변이 언어 조건을 지키는지 반드시 확인하라.\n\n";
    user += "[질문]\n" + at(sample.turns, 0) + "\n\n";
    if (auto ref = reference_of(sample, m_spec.references_field, 0); !ref.empty()) user += "[참고 자료]\n" + ref + "\n\n";
    user += "[모델의 답변]\n" + at(answers, 0) + "\n\n";
    if (turn > 0) {
      user += "[후속 질문]\n" + at(sample.turns, 1) + "\n\n";
      if (auto ref = reference_of(sample, m_spec.references_field, 1); !ref.empty()) user += "[참고 자료]\n" + ref + "\n\n";
      user += "[후속 질문에 대한 모델의 답변]\n" + at(answers, 1) + "\n\n";
    }
    user += "[대화 끝. 평가를 시작하라.]";
    return {{"system", system_prompt(turn > 0)}, {"user", user}};
  }

  std::optional<double> rating(std::string_view verdict) const override { return labelled_rating(verdict); }

  void score(const Sample& sample, const std::vector<std::string>&, const std::vector<TurnVerdict>& verdicts,
             SampleScore& out) const override {
    logickor_score(m_spec, sample, verdicts, out);
  }

  int attempts() const override { return 2; }
  std::string format_reminder() const override {
    return "반드시 정해진 형식으로만 답한다. 마지막 줄에 점수를 \"점수: <숫자>\" 형식으로 쓴다. 예: 점수: 7";
  }

  nlohmann::json describe() const override {
    return {{"protocol", "logickor_keval"},
            {"version", k_version},
            {"prompt_sha256", sha256_hex(system_prompt(false) + "\n" + system_prompt(true))},
            {"references_field", m_spec.references_field},
            {"penalty", m_spec.penalty},
            {"verdict", "점수: N"}};
  }

  std::vector<std::string> breakdown_metrics() const override {
    if (m_spec.category_field.empty()) return {};
    return {"judge_single_turn", "judge_multi_turn"};
  }

private:
  JudgeSpec m_spec;
};

} // namespace

std::unique_ptr<JudgeProtocol> make_logickor_keval_protocol(const JudgeSpec& spec, JudgeData) {
  return std::make_unique<LogicKorProtocol>(spec);
}

const JudgeProtocolDefinition& logickor_keval_judge() {
  static const JudgeProtocolDefinition protocol{"logickor_keval", logickor_metrics(), make_logickor_keval_protocol};
  return protocol;
}

} // namespace keval::detail
