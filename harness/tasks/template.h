#pragma once
// Prompt templates: `{{name}}` inserts a value, `{{#name}}…{{/name}}` keeps its text only when
// the value is non-empty, `{{^name}}…{{/name}}` only when it is empty. Names may follow nested
// keys and list items with dots (`labels.real-label`, `choices.0`). No expressions, by design:
// anything computed belongs in a task's `derived` tables or in code.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace keval {

// Returns the value of a name, or nullptr when the name is unknown.
using TemplateLookup = std::function<const nlohmann::json*(std::string_view name)>;

class Template {
public:
  Template() = default;
  // `where` names the template in errors (e.g. "tasks/kobest/kobest_copa.yaml:12 (prompt)").
  static Template parse(std::string_view text, std::string where);

  // Throws InputError naming `where` and the name when a `{{name}}` is unknown.
  std::string render(const TemplateLookup& lookup) const;
  void render_to(std::string& out, const TemplateLookup& lookup) const;
  bool empty() const { return m_nodes.empty(); }
  const std::string& where() const { return m_where; }

  struct Node {
    enum class Kind { text, variable, section, inverted } kind = Kind::text;
    std::string text;                 // text, or the variable's name
    std::vector<Node> children;       // sections
  };

private:
  std::vector<Node> m_nodes;
  std::string m_where;
};

// Splits "a.b.0" and walks a JSON value; nullptr when a step is missing.
const nlohmann::json* json_path(const nlohmann::json& root, std::string_view path);
// How a JSON value reads in a prompt: strings as they are, integers without ".0".
std::string json_to_text(const nlohmann::json& value);
bool json_truthy(const nlohmann::json* value);

} // namespace keval
