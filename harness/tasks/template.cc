#include "template.h"

#include <cmath>

#include <fmt/format.h>

#include "error.h"

namespace keval {
namespace {

struct Parser {
  std::string_view text;
  const std::string& where;
  size_t pos = 0;

  // Parses until `{{/closing}}` (or the end when closing is empty).
  std::vector<Template::Node> parse_until(std::string_view closing) {
    std::vector<Template::Node> nodes;
    while (pos < text.size()) {
      size_t open = text.find("{{", pos);
      if (open == std::string_view::npos) {
        push_text(nodes, text.substr(pos));
        pos = text.size();
        break;
      }
      push_text(nodes, text.substr(pos, open - pos));
      size_t close = text.find("}}", open + 2);
      if (close == std::string_view::npos)
        throw InputError(fmt::format("{}: unclosed '{{{{' at offset {}", where, open));
      std::string_view tag = trim(text.substr(open + 2, close - open - 2));
      pos = close + 2;
      if (tag.empty()) throw InputError(fmt::format("{}: empty '{{{{}}}}'", where));
      char sigil = tag[0];
      if (sigil == '/') {
        std::string_view name = trim(tag.substr(1));
        if (name != closing)
          throw InputError(fmt::format("{}: '{{{{/{}}}}}' closes nothing{}", where, name,
                                       closing.empty() ? "" : fmt::format(" (open section is '{}')", closing)));
        return nodes;
      }
      if (sigil == '#' || sigil == '^') {
        std::string name(trim(tag.substr(1)));
        Template::Node node;
        node.kind = sigil == '#' ? Template::Node::Kind::section : Template::Node::Kind::inverted;
        node.text = name;
        node.children = parse_until(name);
        nodes.push_back(std::move(node));
        continue;
      }
      Template::Node node;
      node.kind = Template::Node::Kind::variable;
      node.text = std::string(tag);
      nodes.push_back(std::move(node));
    }
    if (!closing.empty())
      throw InputError(fmt::format("{}: section '{{{{#{}}}}}' is never closed", where, closing));
    return nodes;
  }

  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }

  static void push_text(std::vector<Template::Node>& nodes, std::string_view s) {
    if (s.empty()) return;
    if (!nodes.empty() && nodes.back().kind == Template::Node::Kind::text) {
      nodes.back().text.append(s);
      return;
    }
    Template::Node node;
    node.text = std::string(s);
    nodes.push_back(std::move(node));
  }
};

void render_nodes(const std::vector<Template::Node>& nodes, std::string& out, const TemplateLookup& lookup,
                  const std::string& where) {
  for (const auto& node : nodes) {
    switch (node.kind) {
    case Template::Node::Kind::text: out += node.text; break;
    case Template::Node::Kind::variable: {
      const nlohmann::json* value = lookup(node.text);
      if (!value) throw InputError(fmt::format("{}: unknown field '{{{{{}}}}}' in template", where, node.text));
      out += json_to_text(*value);
      break;
    }
    case Template::Node::Kind::section:
      if (json_truthy(lookup(node.text))) render_nodes(node.children, out, lookup, where);
      break;
    case Template::Node::Kind::inverted:
      if (!json_truthy(lookup(node.text))) render_nodes(node.children, out, lookup, where);
      break;
    }
  }
}

} // namespace

Template Template::parse(std::string_view text, std::string where) {
  Template t;
  t.m_where = std::move(where);
  Parser parser{text, t.m_where};
  t.m_nodes = parser.parse_until("");
  return t;
}

std::string Template::render(const TemplateLookup& lookup) const {
  std::string out;
  render_to(out, lookup);
  return out;
}

void Template::render_to(std::string& out, const TemplateLookup& lookup) const {
  render_nodes(m_nodes, out, lookup, m_where);
}

const nlohmann::json* json_path(const nlohmann::json& root, std::string_view path) {
  const nlohmann::json* cur = &root;
  // A key containing dots wins over a nested path (e.g. a column literally named "a.b").
  if (cur->is_object()) {
    auto it = cur->find(std::string(path));
    if (it != cur->end()) return &*it;
  }
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view step = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    if (cur->is_object()) {
      auto it = cur->find(std::string(step));
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      size_t index = 0;
      for (char c : step) {
        if (c < '0' || c > '9') return nullptr;
        index = index * 10 + static_cast<size_t>(c - '0');
      }
      if (step.empty() || index >= cur->size()) return nullptr;
      cur = &(*cur)[index];
    } else {
      return nullptr;
    }
  }
  return cur;
}

std::string json_to_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>();
  if (value.is_null()) return "";
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) return fmt::format("{}", static_cast<long long>(d));
    return fmt::format("{}", d);
  }
  if (value.is_array()) {
    std::string out;
    for (size_t i = 0; i < value.size(); ++i) {
      if (i) out += ", ";
      out += json_to_text(value[i]);
    }
    return out;
  }
  return value.dump();
}

bool json_truthy(const nlohmann::json* value) {
  if (!value || value->is_null()) return false;
  if (value->is_string()) return !value->get_ref<const std::string&>().empty();
  if (value->is_array() || value->is_object()) return !value->empty();
  if (value->is_boolean()) return value->get<bool>();
  return true;
}

} // namespace keval
