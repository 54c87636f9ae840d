// A judge model's verdict text (MT-Bench "[[8]]", LogicKor "점수: 8", pairwise "[[A]]") and the
// Korean-share penalty on any answer: never throw, and a rating read is within 0..10.
#include <cmath>

#include "fuzz_support.h"
#include "judge.h"
#include "judge_pairwise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = keval::fuzz::as_text(data, size);
  for (auto rating : {keval::bracket_rating(text), keval::labelled_rating(text)})
    if (rating && !(*rating >= 0 && *rating <= 10)) std::abort();
  keval::pair_verdict(text);
  const double share = keval::korean_share(text);
  if (!(share >= 0 && share <= 1)) std::abort();
  return 0;
}
