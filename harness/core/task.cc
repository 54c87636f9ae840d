#include "task.h"

#include "request.h"

namespace keval {

std::vector<Message> chat_messages(const TaskConfig& task, const Sample& sample) {
  std::vector<Message> messages;
  if (!task.system_prompt.empty()) messages.push_back({"system", task.system_prompt});
  messages.insert(messages.end(), task.messages_before.begin(), task.messages_before.end());
  messages.push_back({"user", sample.asked()});
  return messages;
}

double sampling_temperature(const TaskConfig& task, const Sample& sample) {
  const GenerationSettings& g = task.generation;
  if (g.temperature_field.empty()) return g.temperature;
  const auto it = sample.fields.find(g.temperature_field);
  if (it == sample.fields.end() || !it->is_string()) return g.temperature;
  const auto value = g.temperature_by_value.find(it->get<std::string>());
  return value == g.temperature_by_value.end() ? g.temperature : value->second;
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
  case FailureKind::context_exceeded: return "context_exceeded";
  }
  return "?";
}

} // namespace keval
