#include "task.h"

#include "request.h"

namespace keval {

std::vector<Message> chat_messages(const TaskConfig& task, const Sample& sample) {
  std::vector<Message> messages;
  if (!task.system_prompt.empty()) messages.push_back({"system", task.system_prompt});
  messages.push_back({"user", sample.asked()});
  return messages;
}

const char* to_string(OutputType t) {
  switch (t) {
  case OutputType::multiple_choice: return "multiple_choice";
  case OutputType::generate: return "generate";
  case OutputType::dialogue: return "dialogue";
  }
  return "?";
}

const char* to_string(FailureKind k) {
  switch (k) {
  case FailureKind::none: return "none";
  case FailureKind::missing: return "missing";
  case FailureKind::transport: return "transport";
  case FailureKind::timeout: return "timeout";
  case FailureKind::http_status: return "http_status";
  case FailureKind::malformed: return "malformed";
  case FailureKind::backend: return "backend";
  case FailureKind::aborted: return "aborted";
  case FailureKind::too_large: return "too_large";
  }
  return "?";
}

} // namespace keval
