#pragma once
// Internal to the scorers library: each built-in scorer's factory, and the option checks and
// choice scoring they share. Other code goes through scorer.h.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "metric.h"
#include "scorer.h"

namespace keval::detail {

// Factories; `options` has already been checked for unknown keys by make_scorer.
std::unique_ptr<Scorer> make_multiple_choice_scorer(const nlohmann::json& options);
std::unique_ptr<Scorer> make_kobbq_scorer(const nlohmann::json& options);
std::unique_ptr<Scorer> make_korquad_scorer(const nlohmann::json& options);
std::unique_ptr<Scorer> make_similarity_scorer(const nlohmann::json& options);
std::unique_ptr<Scorer> make_dialogue_scorer(const nlohmann::json& options);
std::unique_ptr<Scorer> make_numeric_scorer(const nlohmann::json& options);

// Sets meta.invalid_utf8 = true when any output text is not well-formed UTF-8 (it was scored with
// U+FFFD in place of the bad bytes). Absent otherwise, so clean scores stay small.
void flag_invalid_utf8(const ModelOutput& output, SampleScore& score);

// Metrics several scorers produce, declared once (multiple_choice.cc).
const MetricDefinition& accuracy_metric();             // acc
const MetricDefinition& normalised_accuracy_metric();  // acc_norm

// Typed option readers: InputError naming the scorer and the option when the type is wrong.
double number_option(const std::string& scorer, const nlohmann::json& options, const std::string& key,
                     double fallback);
std::string string_option(const std::string& scorer, const nlohmann::json& options, const std::string& key,
                          const std::string& fallback);
std::vector<std::string> strings_option(const std::string& scorer, const nlohmann::json& options,
                                        const std::string& key, const std::vector<std::string>& fallback);

// The choice part of multiple_choice and kobbq. Log-likelihood: acc from the argmax, acc_norm from
// the argmax of logprob / characters of the choice's text. Generation: extract_choice on the first
// text; acc_norm = acc; unparsed counts as wrong and is flagged.
SampleScore score_choice(const Sample& sample, const ModelOutput& output);

// KorQuAD 1.0's official normalisation and per-pair scores (0..1), exposed for tests.
std::vector<std::u32string> korquad_tokens(std::string_view s);
double korquad_exact_match(std::string_view prediction, std::string_view reference);
double korquad_f1(std::string_view prediction, std::string_view reference);

// A number held in a row field: a JSON number or a numeric string. Empty when neither.
std::optional<double> field_number(const nlohmann::json& fields, const std::string& key);

} // namespace keval::detail
