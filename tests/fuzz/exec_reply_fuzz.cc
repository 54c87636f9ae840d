// One line an exec program writes: parse_exec_reply never throws; a reply it accepts is either
// a text, log-probabilities (finite, <= 0) or a failure with a message.
#include <cmath>

#include "backends/exec_protocol.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reply = keval::parse_exec_reply(keval::fuzz::as_text(data, size), "fuzz");
  if (reply) {
    if (!reply->response.ok() && reply->response.message.empty()) std::abort();
    for (double v : reply->response.logprobs)
      if (!std::isfinite(v) || v > 0) std::abort();
  }
  return 0;
}
