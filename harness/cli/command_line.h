#pragma once
// Checks of the command line that CLI11 does not make: a bare `keval` and `keval help [COMMAND]`
// list the commands (or one command's options); an unknown command or option is named with the
// nearest known one ("did you mean '--limit'?").
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace keval::cli {

struct CommandLineCheck {
  enum class Kind { parse, help, usage_error };
  Kind kind = Kind::parse;  // parse: nothing found, CLI11 parses the line
  std::string message;      // help: for stdout; usage_error: for stderr
};

// `args` is argv without the program name.
CommandLineCheck check_command_line(CLI::App& app, const std::vector<std::string>& args);

} // namespace keval::cli
