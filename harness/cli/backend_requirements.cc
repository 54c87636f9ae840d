#include "backend_requirements.h"

#include <fmt/format.h>

namespace keval::cli {

std::vector<std::string> missing_backend_options(const BackendOptions& options, const std::string& prefix) {
  std::vector<std::string> missing;
  const std::string& kind = options.kind;
  if (kind == "openai-chat" || kind == "openai-completions") {
    if (options.base_urls.empty()) missing.push_back(prefix + "base-url (the server's URL, e.g. http://127.0.0.1:8000/v1)");
    if (options.model.empty()) missing.push_back(prefix + "model (the name the server serves)");
  } else if (kind == "exec") {
    if (options.command.empty()) missing.push_back(fmt::format("{}cmd (the program to start, \"PROGRAM ARGS\")", prefix));
  } else if (kind == "replay") {
    if (options.responses_file.empty()) missing.push_back(prefix + "responses (the recorded answers, FILE.jsonl)");
  }
  return missing;
}

} // namespace keval::cli
