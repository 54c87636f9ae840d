#pragma once
// Escaping for text that comes from models and datasets: every such string goes through one of
// these before it reaches an HTML, SVG or XML file.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace keval::html {

// Text and attribute values: & < > " ' become entities. Safe in element content and in quoted
// attributes (never put data in an unquoted attribute, a URL or an event handler).
std::string escape(std::string_view s);

// XML 1.0 (JUnit files): as escape(), and control characters XML cannot hold are dropped.
std::string xml_escape(std::string_view s);

// JSON for a <script type="application/json"> block: < > & and U+2028/U+2029 become \uXXXX, so
// no string can close the script element or open a comment; invalid UTF-8 becomes U+FFFD.
std::string script_json(const nlohmann::json& j);
// The same transformation on JSON text that is already serialised (stored score records):
// those characters can only occur inside JSON strings, where the escapes mean the same.
std::string script_safe(std::string_view json_text);

// A file name for a task or run name, also safe in a relative URL: ASCII letters, digits, '_'
// and '.' are kept, every other byte becomes -XX (so distinct names give distinct files).
std::string file_name(std::string_view name);

} // namespace keval::html
