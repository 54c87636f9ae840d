#pragma once
// The exec protocol's reply line (SPEC "The exec protocol") read as a pure function, apart from
// the process handling in exec_backend.cc, so tests and the fuzzer reach it without a program:
//   {"id": "r1", "text": "…"}   {"id": "r2", "logprobs": [-0.31, -1.72]}   {"id": "r3", "error": "message"}
#include <optional>
#include <string>
#include <string_view>

#include "request.h"

namespace keval {

struct ExecReply {
  std::string id;
  Response response;  // text or logprobs; failed `backend` for "error", `malformed` for a bad field
};

// nullopt when the line is not a reply at all: not strict JSON (json_line.h), not an object, or
// without a string "id". `program` names the command in failure messages.
std::optional<ExecReply> parse_exec_reply(std::string_view line, const std::string& program);

} // namespace keval
