// Log-likelihood through an OpenAI-compatible completions server equals what
// lm-evaluation-harness computes: its _encode_pair (lm_eval/api/model.py) moves the context's
// trailing whitespace onto the continuation, tokenizes the stripped context and the whole text,
// and sums the whole text's token log-probs past the context's tokens (api_models.py
// parse_logprobs over an echo reply). KoBEST BoolQ's context ends in "답변: " and its
// continuations are " 예" / " 아니오": on the mock's tokenizers the space tokens straddle the
// boundary, so the split decides the score.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include "http/mock.h"

namespace keval::testing {
namespace {

nlohmann::json post(const std::string& url, const nlohmann::json& body) {
  std::string reply;
  const std::string payload = body.dump();
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return nlohmann::json::object();
  return nlohmann::json::parse(reply, nullptr, false);
}

// The echoed logprobs of `text` (tokens, token_logprobs, text_offset).
nlohmann::json echo(const MockServer& mock, const std::string& text) {
  auto j = post(mock.url() + "/completions",
                {{"model", "m"}, {"prompt", text}, {"echo", true}, {"logprobs", 1}, {"max_tokens", 0}});
  return j.at("choices").at(0).at("logprobs");
}

// Python's str.rstrip() on these ASCII-spaced contexts.
size_t trailing_spaces(const std::string& s) {
  size_t n = 0;
  while (n < s.size() && (s[s.size() - 1 - n] == ' ' || s[s.size() - 1 - n] == '\n')) ++n;
  return n;
}

// lm-eval: context_enc = tok(context.rstrip()), whole = tok(context.rstrip() + spaces + continuation),
// log-prob = sum(whole's token log-probs from len(context_enc) on).
double lm_eval_logprob(const MockServer& mock, const std::string& context, const std::string& continuation) {
  const size_t n = trailing_spaces(context);
  const std::string stripped = context.substr(0, context.size() - n);
  const size_t context_tokens = echo(mock, stripped).at("tokens").size();
  const auto whole = echo(mock, stripped + context.substr(context.size() - n) + continuation);
  double sum = 0;
  for (size_t i = context_tokens; i < whole.at("token_logprobs").size(); ++i) sum += whole["token_logprobs"][i].get<double>();
  return sum;
}

// What a client gets that splits at the unmoved boundary: the tokens starting inside the continuation.
double unmoved_logprob(const MockServer& mock, const std::string& context, const std::string& continuation) {
  const auto whole = echo(mock, context + continuation);
  double sum = 0;
  for (size_t i = 0; i < whole.at("tokens").size(); ++i)
    if (whole["text_offset"][i].get<size_t>() >= context.size()) sum += whole["token_logprobs"][i].get<double>();
  return sum;
}

std::map<std::string, std::vector<double>> stored_logprobs(const std::string& db_path) {
  std::map<std::string, std::vector<double>> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  sqlite3_exec(db, "SELECT sample_id, logprobs_json FROM responses WHERE status = 'ok'", [](void* o, int, char** v, char**) {
    auto j = nlohmann::json::parse(v[1] ? v[1] : "null", nullptr, false);
    if (j.is_array()) (*static_cast<std::map<std::string, std::vector<double>>*>(o))[v[0]] = j.get<std::vector<double>>();
    return 0;
  }, &out, nullptr);
  sqlite3_close(db);
  return out;
}

void expect_scores_as_lm_eval(const std::string& tokenizer) {
  ScratchDir dir;
  MockServer mock("--tokenizer " + tokenizer);
  ASSERT_GT(mock.port(), 0);
  const std::string args = "--task kobest_boolq --limit 6 --num-fewshot 1";
  auto samples = run_keval("samples --json " + args);
  ASSERT_EQ(samples.exit_code, 0) << samples.err;
  auto run = run_keval("run --tasks kobest_boolq --limit 6 --num-fewshot 1 --mc-mode loglik --backend openai-completions "
                       "--model m --no-progress --base-url " + mock.url() + " --db " + dir / "k.db");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto stored = stored_logprobs(dir / "k.db");
  ASSERT_EQ(stored.size(), 6u);
  size_t compared = 0, differs_unmoved = 0;
  std::istringstream lines(samples.out);
  std::string line;
  while (std::getline(lines, line)) {
    const auto s = nlohmann::json::parse(line);
    const std::string context = s.at("prompt");
    ASSERT_EQ(context.back(), ' ') << "BoolQ's context ends in a space";
    const auto& ours = stored.at(s.at("id").get<std::string>());
    ASSERT_EQ(ours.size(), s.at("choices").size());
    for (size_t c = 0; c < ours.size(); ++c) {
      const std::string continuation = s["choices"][c];
      EXPECT_DOUBLE_EQ(ours[c], lm_eval_logprob(mock, context, continuation)) << s["id"] << " choice " << c;
      if (unmoved_logprob(mock, context, continuation) != ours[c]) ++differs_unmoved;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 12u);
  EXPECT_EQ(differs_unmoved, compared) << "the tokenizer should make the boundary matter";
}

TEST(EncodePair, SpacesJoinedToTheNextWord) { expect_scores_as_lm_eval("words"); }
TEST(EncodePair, SpacesApartAsGpt2) { expect_scores_as_lm_eval("spaces-apart"); }

} // namespace
} // namespace keval::testing
