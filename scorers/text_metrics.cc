#include "text_metrics.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "normalize.h"
#include "text.h"

namespace keval {

namespace {

// Python's str.split() separators, which both reference implementations drop.
bool python_space(char32_t c) { return text::is_space(c) || (c >= 0x1C && c <= 0x1F); }

std::u32string without_spaces(const std::string& s) {
  std::u32string out;
  for (char32_t c : text::decode(s))
    if (!python_space(c)) out += c;
  return out;
}

size_t lcs_length(const std::u32string& a, const std::u32string& b) {
  if (a.empty() || b.empty()) return 0;
  // Two rows: answers may be paragraphs, a full table would be |a|·|b| words.
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

} // namespace

double rouge_l_chars(std::string_view prediction, std::string_view reference) {
  const std::u32string pred = without_spaces(text::lower(normalize::for_compare(prediction)));
  const std::u32string ref = without_spaces(text::lower(normalize::for_compare(reference)));
  const size_t lcs = lcs_length(pred, ref);
  if (lcs == 0) return 0.0;
  const double precision = static_cast<double>(lcs) / static_cast<double>(pred.size());
  const double recall = static_cast<double>(lcs) / static_cast<double>(ref.size());
  return 2 * precision * recall / (precision + recall);
}

double chrf(std::string_view prediction, std::string_view reference, int n, double beta) {
  const std::u32string pred = without_spaces(normalize::for_compare(prediction));
  const std::u32string ref = without_spaces(normalize::for_compare(reference));
  double avg_precision = 0, avg_recall = 0;
  int effective_order = 0;
  for (int order = 1; order <= n; ++order) {
    const auto k = static_cast<size_t>(order);
    if (pred.size() < k || ref.size() < k) continue;  // sacrebleu counts such an order as absent
    std::map<std::u32string_view, long> ref_counts;
    const std::u32string_view rv(ref), pv(pred);
    for (size_t i = 0; i + k <= rv.size(); ++i) ++ref_counts[rv.substr(i, k)];
    long matches = 0;
    for (size_t i = 0; i + k <= pv.size(); ++i) {
      auto it = ref_counts.find(pv.substr(i, k));
      if (it != ref_counts.end() && it->second > 0) {
        --it->second;
        ++matches;
      }
    }
    const double n_pred = static_cast<double>(pv.size() - k + 1);
    const double n_ref = static_cast<double>(rv.size() - k + 1);
    avg_precision += static_cast<double>(matches) / n_pred;
    avg_recall += static_cast<double>(matches) / n_ref;
    ++effective_order;
  }
  if (effective_order == 0) return 0.0;
  avg_precision /= effective_order;
  avg_recall /= effective_order;
  if (avg_precision + avg_recall <= 0) return 0.0;
  const double factor = beta * beta;
  return (1 + factor) * avg_precision * avg_recall / (factor * avg_precision + avg_recall);
}

} // namespace keval
