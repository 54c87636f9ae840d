// Numeric answers: normalize::parse_number and the `numeric` scorer on any model output never
// throw, and a number they read is finite.
#include <cmath>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "normalize.h"
#include "scorer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = keval::fuzz::as_text(data, size);
  if (auto v = keval::normalize::parse_number(text); v && !std::isfinite(*v)) std::abort();
  for (double v : keval::normalize::parse_numbers(text))
    if (!std::isfinite(v)) std::abort();
  static const auto scorer = keval::make_scorer("numeric", nlohmann::json::object());
  static const keval::Sample sample = [] {
    keval::Sample s;
    s.task = "fuzz";
    s.id = "1";
    s.gold_number = 42;
    return s;
  }();
  keval::ModelOutput output;
  output.texts = {std::string(text)};
  auto score = scorer->score(sample, output);
  if (score.predicted_number && !std::isfinite(*score.predicted_number)) std::abort();
  return 0;
}
