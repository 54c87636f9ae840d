#include "yaml_file.h"

#include <cstdio>
#include <map>
#include <memory>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include <fmt/format.h>

#include "error.h"
#include "text.h"

namespace keval {
namespace {

std::string place(const std::string& display, const YAML::Mark& mark) {
  return fmt::format("{}:{}:{}", display, mark.line + 1, mark.column + 1);
}

// Walks the parser's events before any node is built: refuses anchors, aliases and deep nesting
// while the structure is still a stream, so nothing cyclic or exponential ever exists.
class SafetyCheck final : public YAML::EventHandler {
public:
  explicit SafetyCheck(const std::string& display) : m_display(display) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { check_anchor(mark, anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw InputError(fmt::format("{}: YAML aliases ('*name') are not allowed in keval files; write the value out",
                                 place(m_display, mark)));
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string&) override {
    check_anchor(mark, anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { --m_depth; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { --m_depth; }
  void OnAnchor(const YAML::Mark& mark, const std::string&) override { refuse_anchor(mark); }

private:
  void check_anchor(const YAML::Mark& mark, YAML::anchor_t anchor) const {
    if (anchor != YAML::NullAnchor) refuse_anchor(mark);
  }
  [[noreturn]] void refuse_anchor(const YAML::Mark& mark) const {
    throw InputError(fmt::format("{}: YAML anchors ('&name') are not allowed in keval files; write the value out",
                                 place(m_display, mark)));
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    check_anchor(mark, anchor);
    if (++m_depth > k_max_yaml_depth)
      throw InputError(fmt::format("{}: nested more than {} levels deep", place(m_display, mark), k_max_yaml_depth));
  }

  const std::string& m_display;
  int m_depth = 0;
};

// Duplicate keys (yaml-cpp keeps both and lets one win silently) and keys that are not strings.
void check_keys(const YAML::Node& node, const std::string& display) {
  if (node.IsMap()) {
    std::map<std::string, int> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const int line = it->first.Mark().line + 1;
      if (!it->first.IsScalar())
        throw InputError(fmt::format("{}:{}: a key must be a plain string", display, line));
      const std::string& key = it->first.Scalar();
      auto [pos, inserted] = seen.emplace(key, line);
      if (!inserted)
        throw InputError(fmt::format("{}:{}: duplicate key '{}' (first at line {})", display, line, key, pos->second));
      check_keys(it->second, display);
    }
  } else if (node.IsSequence()) {
    for (const auto& child : node) check_keys(child, display);
  }
}

// 1-based line and column of byte `offset`.
std::pair<size_t, size_t> line_and_column(std::string_view content, size_t offset) {
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (content[i] == '\n') ++line, line_start = i + 1;
  return {line, offset - line_start + 1};
}

} // namespace

YAML::Node load_yaml_text(std::string_view content, const std::string& display) {
  if (auto bad = text::first_invalid_utf8(content)) {
    auto [line, column] = line_and_column(content, *bad);
    throw InputError(fmt::format("{}:{}:{}: invalid UTF-8 (byte 0x{:02X}); keval files are UTF-8", display, line, column,
                                 static_cast<unsigned char>(content[*bad])));
  }
  const std::string owned(content);
  try {
    std::istringstream stream(owned);
    YAML::Parser parser(stream);
    SafetyCheck check(display);
    int documents = 0;
    while (parser.HandleNextDocument(check))
      if (++documents > 1)
        throw InputError(fmt::format("{}: holds more than one YAML document ('---'); a keval file is one", display));
    YAML::Node root = YAML::Load(owned);
    check_keys(root, display);
    return root;
  } catch (const YAML::ParserException& e) {
    throw InputError(fmt::format("{}: YAML syntax error: {}", place(display, e.mark), e.msg));
  } catch (const YAML::Exception& e) {
    // Parsing raises only ParserException; anything else is still about this file's content.
    throw InputError(fmt::format("{}: cannot read as YAML: {}", place(display, e.mark), e.msg));
  }
}

YAML::Node load_yaml_file(const std::string& path, const std::string& display, std::string_view what) {
  // Read with a cap: a path such as /dev/zero must fail, not fill the memory.
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw InputError(fmt::format("{}: cannot read the {}", display, what));
  std::string content;
  char chunk[1 << 16];
  for (;;) {
    const size_t got = std::fread(chunk, 1, sizeof chunk, file.get());
    content.append(chunk, got);
    if (content.size() > k_max_yaml_bytes)
      throw InputError(fmt::format("{}: larger than {} MiB, the limit for a keval YAML file", display, k_max_yaml_bytes >> 20));
    if (got < sizeof chunk) {
      // A directory opens fine on Linux and only fails here (EISDIR).
      if (std::ferror(file.get())) throw InputError(fmt::format("{}: cannot read the {}", display, what));
      break;
    }
  }
  return load_yaml_text(content, display);
}

} // namespace keval
