// The choice extractor on any model output: never throws, and an index it reads is a choice.
// The first byte picks the label set, as tasks use them.
#include <vector>

#include "extract_choice.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::vector<std::string>> label_sets = {
      {"A", "B", "C", "D"}, {"1", "2", "3", "4", "5"}, {"①", "②", "③", "④", "⑤"}, {"가", "나", "다", "라"},
      {"㉠", "㉡", "㉢"},     {}};
  static const std::vector<std::string> texts = {"서울", "부산", "알 수 없음", "할머니", "1,000원"};
  if (size == 0) return 0;
  const auto& labels = label_sets[data[0] % label_sets.size()];
  const std::vector<std::string> choices(texts.begin(), texts.begin() + static_cast<long>(labels.empty() ? 3 : labels.size()));
  auto r = keval::extract_choice(keval::fuzz::as_text(data + 1, size - 1), labels, choices);
  const int n = static_cast<int>(labels.empty() ? choices.size() : labels.size());
  if (r.index < -1 || r.index >= n) std::abort();
  return 0;
}
