#include "command_line.h"

#include <fmt/format.h>

#include "text.h"

namespace keval::cli {
namespace {

// Every long option name a command (and the top level, whose options fall through) accepts.
std::vector<std::string> long_options(const CLI::App& app, const CLI::App* command) {
  std::vector<std::string> names = {"--help", "--version"};
  for (const CLI::App* a : {&app, command}) {
    if (!a) continue;
    for (const CLI::Option* option : a->get_options())
      for (const auto& name : option->get_lnames()) names.push_back("--" + name);
  }
  return names;
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  return names;
}

std::string suggestion(const std::string& name, const std::vector<std::string>& known) {
  const auto near = text::closest(name, known);
  return near.empty() ? std::string() : fmt::format("; did you mean '{}'?", near.front());
}

bool takes_value(const CLI::App& app, const std::string& name) {
  for (const CLI::Option* option : app.get_options())
    for (const auto& l : option->get_lnames())
      if ("--" + l == name) return option->get_type_size() != 0;
  return false;
}

} // namespace

CommandLineCheck check_command_line(CLI::App& app, const std::vector<std::string>& args) {
  CommandLineCheck out;
  // The command is the first word that is neither an option nor a top-level option's value.
  size_t at = 0;
  for (; at < args.size(); ++at) {
    const std::string& a = args[at];
    if (a == "--help" || a == "-h" || a == "--version") return out;  // CLI11 answers these
    if (!a.starts_with("-")) break;
    const std::string name = a.substr(0, a.find('='));
    if (const auto known = long_options(app, nullptr); std::find(known.begin(), known.end(), name) == known.end()) {
      out.kind = CommandLineCheck::Kind::usage_error;
      out.message = fmt::format("keval: error: unknown option '{}' before the command{} (`keval help` lists them)\n",
                                name, suggestion(name, known));
      return out;
    }
    if (a.find('=') == std::string::npos && takes_value(app, name)) ++at;
  }
  if (at >= args.size()) {
    out.kind = CommandLineCheck::Kind::usage_error;
    out.message = app.help() + "\nkeval: error: no command given (one of: " + text::join(command_names(app), ", ") + ")\n";
    return out;
  }
  const std::string& command = args[at];
  if (command == "help") {
    out.kind = CommandLineCheck::Kind::help;
    if (at + 1 >= args.size()) {
      out.message = app.help();
      return out;
    }
    try {
      out.message = app.get_subcommand(args[at + 1])->help();
    } catch (const CLI::OptionNotFound&) {
      out.kind = CommandLineCheck::Kind::usage_error;
      out.message = fmt::format("keval: error: no command '{}'{} (`keval help` lists them)\n", args[at + 1],
                                suggestion(args[at + 1], command_names(app)));
    }
    return out;
  }
  CLI::App* sub = nullptr;
  try {
    sub = app.get_subcommand(command);
  } catch (const CLI::OptionNotFound&) {
    out.kind = CommandLineCheck::Kind::usage_error;
    out.message = fmt::format("keval: error: no command '{}'{} (`keval help` lists them)\n", command,
                              suggestion(command, command_names(app)));
    return out;
  }
  const std::vector<std::string> known = long_options(app, sub);
  for (size_t i = at + 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;  // what follows is positional
    if (!a.starts_with("--")) continue;
    const std::string name = a.substr(0, a.find('='));
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    out.kind = CommandLineCheck::Kind::usage_error;
    out.message = fmt::format("keval {}: error: unknown option '{}'{} (`keval help {}` lists them)\n", command, name,
                              suggestion(name, known), command);
    return out;
  }
  return out;
}

} // namespace keval::cli
