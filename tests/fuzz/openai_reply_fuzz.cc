// OpenAI-format reply bodies (chat, completions, log-probs): the parsers never throw; a failed
// parse is a `malformed` (or server-reported) Response with a message.
#include <cmath>

#include "backends/openai_format.h"
#include "fuzz_support.h"

namespace {

void check(const keval::Response& r) {
  if (!r.ok() && r.message.empty()) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = keval::fuzz::as_text(data, size);
  check(keval::openai::parse_chat_response(body));
  check(keval::openai::parse_completions_response(body));
  static const keval::Request request = [] {
    keval::Request r;
    r.kind = keval::RequestKind::loglikelihood;
    r.context = "하늘은";
    r.continuations = {" 파랗다", " 빨갛다"};
    return r;
  }();
  keval::Response r = keval::openai::parse_loglikelihood_response(body, request);
  check(r);
  if (r.ok() && r.logprobs.size() != request.continuations.size()) std::abort();
  for (double v : r.logprobs)
    if (!std::isfinite(v)) std::abort();
  return 0;
}
