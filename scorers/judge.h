#pragma once
// A judge protocol turns a dialogue sample and the model's answers into the conversation a judge
// model is asked, reads the judge's rating back, and turns the ratings of every turn into
// per-sample values. Pure functions of their inputs, so they test without a judge.
// Protocols: `mt_bench` (KoMT-Bench, judge_mt_bench.cc), `logickor` (LogicKor's own evaluator,
// judge_logickor.cc) and `logickor_keval` (keval's Korean LogicKor prompt, judge_logickor_keval.cc);
// pairwise comparison of two models' answers is in judge_pairwise.h.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "metric.h"
#include "scorer.h"
#include "task.h"

namespace keval {

// The data files a protocol reads, loaded by the caller (rows of JSON lines).
struct JudgeData {
  std::vector<nlohmann::json> prompts;     // judge prompt records (mt_bench; logickor: one, the template)
  std::vector<nlohmann::json> references;  // reference answer records (mt_bench)
  std::string sha256;                      // of the files' content: recorded with the run
};

// A turn's verdict as the judging phase left it.
struct TurnVerdict {
  std::optional<double> rating;  // the rating read from the verdict
  bool unreadable = false;       // the judge answered every attempt, but no rating could be read
  // Neither: the request failed (transport, HTTP status), or the turn was never judged.
};

class JudgeProtocol {
public:
  virtual ~JudgeProtocol() = default;
  // The judge's conversation for `turn` (0-based), given the model's answers up to that turn
  // (reasoning blocks already removed).
  virtual std::vector<Message> prompt(const Sample& sample, int turn, const std::vector<std::string>& answers) const = 0;
  // The rating a verdict gives; nullopt when it gives none that can be read.
  virtual std::optional<double> rating(std::string_view verdict) const = 0;
  // Adds the per-sample judge values (and meta.category) to `score`, from every turn's verdict.
  // Adds no judge_score when the sample cannot be scored (the caller counts it a judge failure).
  virtual void score(const Sample& sample, const std::vector<std::string>& answers,
                     const std::vector<TurnVerdict>& verdicts, SampleScore& score) const = 0;
  // How many times in all a verdict without a readable rating is asked.
  virtual int attempts() const = 0;
  // A short reminder of the verdict's required format, added to a request asked again after a
  // verdict without a readable rating, so the second request differs from the first.
  virtual std::string format_reminder() const = 0;
  // What decides its results: name, version, hash of its prompts, penalty, references. Recorded
  // in the run's configuration so runs judged differently are never compared silently.
  virtual nlohmann::json describe() const = 0;
  // Metrics also reported per category (empty when the task has no category field).
  virtual std::vector<std::string> breakdown_metrics() const = 0;
};

// A judge protocol as the registry knows it. scorers/judge_NAME.cc defines
// `detail::NAME_judge()` returning one, with the metrics its score() produces declared beside it;
// judge.cc lists it on one line.
struct JudgeProtocolDefinition {
  std::string name;
  std::vector<const MetricDefinition*> metrics;
  std::function<std::unique_ptr<JudgeProtocol>(const JudgeSpec& spec, JudgeData data)> make;
};
const std::vector<const JudgeProtocolDefinition*>& judge_protocol_definitions();

std::unique_ptr<JudgeProtocol> make_judge_protocol(const JudgeSpec& spec, JudgeData data);
std::vector<std::string> judge_protocol_names();
// Whether `metric` is one a judge protocol produces (judge_score, …), not a scorer.
bool is_judge_metric(const std::string& metric);

// The stored score of a sample the judge could not score: the scorer's own score (`scorer_score`,
// SampleScore JSON) marked {"failure": "judge", "message", "turn"}. The sample is not scored
// (status judge_failed) and no judge metric counts it, but the scorer's values (hangul_share)
// still count: the model's answers are there.
nlohmann::json judge_failure_score(const nlohmann::json& scorer_score, const std::string& message, size_t turn);
// The metrics a protocol's score() produces (a task lists them beside its scorer's).
std::vector<std::string> judge_metrics(const std::string& protocol);
extern const std::vector<std::string> k_judge_penalties;

// Share of an answer written in Korean for the non-Korean penalty: Hangul letters among all
// letters, leaving out code (fenced blocks and `inline code`), which is written in Latin letters
// in any language. An answer with no letters outside code counts as Korean (1.0).
double korean_share(std::string_view answer);

// KoMT-Bench's language rule: is an answer Korean? The reference asks a language-ID model
// (MediaPipe's detector.tflite) that keval cannot ship; this rule agrees with the decisions the
// reference recorded (docs/judge.md gives the measured agreement). An answer that is JSON, or has
// no letters outside code, is data rather than prose and counts as Korean; other answers are
// Korean when at least k_korean_min_share of their letters outside code are Hangul.
inline constexpr double k_korean_min_share = 0.3;
struct LanguageDecision {
  bool korean = true;
  std::string why;  // "json", "no_letters" or "hangul_share"
  double share = 1.0;
};
LanguageDecision detect_korean(std::string_view answer);

// Shared by the protocols: "[[8]]" (or "[8]") as MT-Bench reads it, and "점수: 8" as LogicKor
// reads it (markdown asterisks ignored). Ratings outside 0..10 are not ratings.
std::optional<double> bracket_rating(std::string_view verdict);
std::optional<double> labelled_rating(std::string_view verdict);

namespace detail {
// judge_score, shared by the protocols: the rating pooled over every counted turn of every
// sample (FastChat's show_result, LogicKor's score.py), weighted by meta.judge_weights.
const MetricDefinition& judge_score_metric();
// A judge rating pooled over turns as judge_score is (resampled over samples).
MetricDefinition turn_weighted_metric(std::string name, std::string description);
// The metrics of LogicKor's score (logickor_score), shared by logickor and logickor_keval.
const std::vector<const MetricDefinition*>& logickor_metrics();
std::unique_ptr<JudgeProtocol> make_mt_bench_protocol(const JudgeSpec& spec, JudgeData data);
std::unique_ptr<JudgeProtocol> make_logickor_protocol(const JudgeSpec& spec, JudgeData data);
std::unique_ptr<JudgeProtocol> make_logickor_keval_protocol(const JudgeSpec& spec, JudgeData data);
// LogicKor's score.py: judge_single_turn and judge_multi_turn (a turn whose verdict stayed
// unreadable counts 0) and their mean judge_score; the *_rated variants leave such turns out.
// A turn whose request failed leaves the sample unscored.
void logickor_score(const JudgeSpec& spec, const Sample& sample, const std::vector<TurnVerdict>& verdicts,
                    SampleScore& out);
// Per-sample weights of the turn-pooled metrics (metrics.cc: sum of weight x value / sum of weights):
// meta.judge_weights[metric] = the number of turns the sample's value averages.
void set_turn_weight(SampleScore& score, const std::string& metric, size_t turns);
// A row field as text ("" when absent or null; numbers as written).
std::string field_text(const nlohmann::json& fields, const std::string& key);
// FastChat's judge prompt records by name -> (system prompt, template); InputError naming `file`
// when one of `required` is missing.
using JudgePrompts = std::map<std::string, std::pair<std::string, std::string>>;
JudgePrompts judge_prompts(const JudgeData& data, const std::string& file, const std::vector<std::string>& required);
// Reference answers by question id -> turns.
std::map<std::string, std::vector<std::string>> reference_answers(const JudgeData& data);
// Fills {name} placeholders as Python's str.format does for the prompt files ({{ and }} escape).
std::string format_placeholders(std::string_view pattern, const std::vector<std::pair<std::string, std::string>>& values);
} // namespace detail

} // namespace keval
