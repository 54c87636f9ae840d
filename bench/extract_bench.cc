// Extraction speed: runs extract_choice over every response of the extraction corpus, round after
// round for at least the given number of seconds (per order), and prints extractions per second.
// Usage: keval-extract-bench [CORPUS.jsonl] [SECONDS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "extract_choice.h"
#include "normalize.h"

namespace {

struct Case {
  std::vector<std::string> labels;
  std::vector<std::string> choices;
  std::string response;
  int expected = -1;
};

std::vector<Case> load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "keval-extract-bench: cannot open %s\n", path.c_str());
    std::exit(2);
  }
  std::vector<Case> cases;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      Case c;
      c.labels = j.at("labels").get<std::vector<std::string>>();
      c.choices = j.at("choices").get<std::vector<std::string>>();
      c.response = j.at("response").get<std::string>();
      // As a run gives it to the extractor: the reasoning block already removed (answer_text).
      if (c.response.find("think>") != std::string::npos) c.response = keval::normalize::strip_think(c.response);
      c.expected = j.at("expected").is_null() ? -1 : j.at("expected").get<int>();
      cases.push_back(std::move(c));
    } catch (const nlohmann::json::exception& e) {
      std::fprintf(stderr, "keval-extract-bench: %s:%d: %s\n", path.c_str(), n, e.what());
      std::exit(2);
    }
  }
  return cases;
}

} // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : KEVAL_EXTRACTION_CORPUS;
  const double min_seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  const auto cases = load(path);
  if (cases.empty()) {
    std::fprintf(stderr, "keval-extract-bench: %s holds no cases\n", path.c_str());
    return 2;
  }
  size_t bytes = 0;
  int agree = 0;
  for (const auto& c : cases) {  // one untimed round: warms caches and checks the build agrees
    bytes += c.response.size();
    agree += keval::extract_choice(c.response, c.labels, c.choices).index == c.expected;
  }
  std::printf("extractor version %s\n", keval::k_extractor_version);
  std::printf("corpus: %zu responses, mean %.0f bytes, %d/%zu as expected\n", cases.size(),
              static_cast<double>(bytes) / static_cast<double>(cases.size()), agree, cases.size());
  // Corpus order keeps lines with the same options together, as a task's samples come; the
  // interleaved order changes the options on every call, the worst case for the option cache.
  std::vector<const Case*> in_order, interleaved;
  for (const auto& c : cases) in_order.push_back(&c);
  const size_t stride = 7;  // coprime with most corpus sizes; any order that splits neighbours will do
  std::vector<bool> taken(cases.size(), false);
  for (size_t start = 0; start < stride; ++start)
    for (size_t i = start; i < cases.size(); i += stride)
      if (!taken[i]) {
        taken[i] = true;
        interleaved.push_back(&cases[i]);
      }
  for (const auto* order : {&in_order, &interleaved}) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    long long extractions = 0;
    long long checksum = 0;  // keeps the calls from being optimised away
    double elapsed = 0;
    do {
      for (const Case* c : *order) checksum += keval::extract_choice(c->response, c->labels, c->choices).index;
      extractions += static_cast<long long>(order->size());
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < min_seconds);
    std::printf("%-12s %lld extractions in %.2f s: %.0f extractions/s (checksum %lld)\n",
                order == &in_order ? "corpus order" : "interleaved", extractions, elapsed,
                static_cast<double>(extractions) / elapsed, checksum);
  }
  return 0;
}
