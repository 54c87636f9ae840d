#pragma once
// Character-level overlap metrics for free-text Korean answers. Korean words carry particles
// ("서울시는", "서울시의"), so word-level ROUGE or BLEU punish a right answer for its ending;
// characters do not. Both return fractions in 0..1 (keval reports fractions everywhere).
#include <string_view>

namespace keval {

// ROUGE-L F-measure over characters: normalize::for_compare, lower-cased (as rouge-score's
// tokenizer does), white space removed; LCS over code points; F = 2PR / (P + R) with
// P = LCS / |pred|, R = LCS / |ref|. 0 when either side is empty.
double rouge_l_chars(std::string_view prediction, std::string_view reference);

// chrF as sacrebleu 2.x computes a sentence score (CHRF(char_order=n, word_order=0, beta,
// whitespace=False, eps_smoothing=False)): character n-grams of orders 1..n with white space
// removed; per order precision and recall from clipped counts; both averaged over the orders
// where the prediction and the reference have n-grams; F-beta of the averages. The strings go
// through normalize::for_compare first (NFC, full-width ASCII), case is kept as sacrebleu keeps it.
double chrf(std::string_view prediction, std::string_view reference, int n = 6, double beta = 2);

} // namespace keval
