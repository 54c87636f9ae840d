#pragma once
// Secrets keval was given (API keys from the environment, --header and --judge-header values)
// and their removal from every text a server or program sends back, before it is stored,
// printed or put in a report: a server may echo the request's headers in an error body or
// even in a 200 reply.
#include <string>
#include <string_view>

#include "request.h"

namespace keval::secrets {

constexpr std::string_view k_mask = "[REDACTED]";
// Shorter values are not hidden: masking a 3-letter header value would rewrite ordinary words
// in every answer. Real keys and tokens are far longer.
constexpr size_t k_min_length = 6;

// A value to hide from now on, in any ASCII case and in its JSON-escaped forms.
void remember(std::string_view value);
// "Name: value" of a --header: its value, and the credential after a scheme ("Bearer sk-…").
void remember_header(std::string_view header);
// KEVAL_API_KEY, KEVAL_JUDGE_API_KEY and OPENAI_API_KEY, whichever are set.
void remember_environment();
// Forgets every value (tests only).
void forget_all();

// `text` with every remembered value replaced by k_mask.
std::string redact(std::string_view text);
// The response's text and message, redacted in place.
void redact(Response& response);

} // namespace keval::secrets
