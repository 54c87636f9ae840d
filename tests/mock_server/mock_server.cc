// keval-mock-server: a small OpenAI-compatible server for keval's tests and benchmarks.
//   GET  /v1/models, /stats (counters; /stats?prompts=1 adds each prompt's request count)
//   POST /v1/chat/completions (also stream: true as SSE), /v1/completions (also echo + logprobs)
// Answers are deterministic. Generation: when an option line of the prompt ("A. …") holds the
// marker (--marker, default ★) that option's label is answered, otherwise a label picked by a hash
// of the prompt. Log-likelihood: the prompt is cut into tokens at spaces (a token is a run of
// spaces and the word after them; offsets in bytes); a token holding the marker gets log-prob
// -0.05, any other -1 to -4 by a hash of its text; the first token's log-prob is null.
// --tokenizer spaces-apart cuts as GPT-2's pre-tokenizer does instead: of a run of n spaces
// before a word, n - 1 spaces are one token and the last starts the word's token. Either way
// a context's trailing space and the continuation's leading one share or split tokens, so
// where a client puts the context/continuation boundary changes the continuation's log-prob.
// Every answer (chat and completions, not streamed) carries `usage` (prompt_tokens,
// completion_tokens, total_tokens) as vLLM and llama.cpp's server send it, counted with that same
// tokenizer (chat: the messages' contents, no template; completions: every prompt of the request).
// Faults (shares of requests, decided by a hash of (seed, body, attempt number) so a retried
// request can succeed; attempts past --fault-attempts never fault): --p500, --p429 (with
// --retry-after SECONDS), --pdrop (connection closed mid-reply), --pmalformed (200 with broken
// JSON); --latency-ms with --jitter-ms; --always-status CODE answers every POST with that status.
// Heavy-tailed latency: --slow-share F --slow-ms N makes a share F of request bodies (picked by a
// hash of (seed, body), so the same requests are slow on every run) take N ms; the rest take
// --latency-ms (with --jitter-ms); --slow-when TEXT makes slow, too, every request whose last
// message (or prompt) holds TEXT, so a test can pick them. --threads N serves N connections at once (default 160): give
// it more than the client's concurrency (e.g. 300 for 256).
// --replies FILE scripts generation answers (e.g. a judge's verdicts): JSON lines
// {"when": "text", "reply": "answer"}; the first rule whose `when` occurs in any message (or the
// prompt) gives the answer.
// --flavor vllm|llama.cpp describes the server as that server does: vllm adds `root` (the
// --model-path) and `max_model_len` to GET /v1/models; llama.cpp lists the model under its file
// (--model-path) with a `meta` block, answers GET /props (model_path, total_slots --slots, per-slot
// n_ctx = --ctx-size / --slots), and accepts `echo` but ignores it: a completion with logprobs
// gets the generated token's log-prob in its own shape ({"content": [{token, logprob, …}]}), never
// the prompt's. Both put the current time in `created`, as the real servers do.
// --flavor sglang answers as SGLang: /v1/models with `root` and `max_model_len`, echo with
// logprobs on /v1/completions, and its native POST /generate (`text` a string or a list;
// return_logprob with logprob_start_len 0 gives meta_info.input_token_logprobs
// [[logprob, id, null], …]). --flavor tgi answers as text-generation-inference: GET /info
// (model_id, max_input_tokens = --max-model-len - 1, max_total_tokens = --max-model-len),
// /v1/models listing the model under its id, /v1/completions ignoring echo, and POST /generate
// ({"inputs", "parameters"}; details + decoder_input_details give details.prefill
// [{id, text, logprob}, …]). Every flavor counts tokens at POST /tokenize in its server's shape
// (llama.cpp {"content"} -> {"tokens"}; vLLM and SGLang {"prompt"} -> {"count", "max_model_len",
// "tokens"}; TGI {"inputs"} -> [{id, text, start, stop}]), with the mock's tokenizer, and refuses
// a prompt longer than its context as that server does: llama.cpp 400 exceed_context_size_error
// when the prompt has n_ctx per slot (--ctx-size / --slots) tokens or more; vLLM 400 "maximum
// context length" and SGLang 400 "longer than the model's context length" when prompt +
// max_tokens passes --max-model-len; TGI 422 when prompt + max_new_tokens does. --no-tokenize
// leaves /tokenize out (the server then counts nothing for keval's check, but still refuses).
// Hostile replies: --echo-headers sends the request's headers back, the n-th POST in the n-th of
// these ways: 400 with the headers as text; 500 whose JSON body quotes them after 250 bytes of
// padding; 200 {"error": …}; 200 with them as the answer; upper-cased as the answer; 200
// {"error": …} with '/' escaped as "\/". --body-mode endless (a 200 body that never ends),
// endless-error (the same with status 500), huge (a valid chat reply whose answer is
// --huge-bytes long, sent with a Content-Length).
// --port 0 picks a free port; the port is printed alone on stdout's first line.
#include <atomic>
#include <fstream>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/socket.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  double p500 = 0, p429 = 0, pdrop = 0, pmalformed = 0;
  double retry_after = 1;   // seconds, sent with 429
  int fault_attempts = 3;   // attempts (per body) that may fault; later ones never do
  int latency_ms = 0, jitter_ms = 0;
  double slow_share = 0;    // share of request bodies that take slow_ms instead
  int slow_ms = 0;
  std::string slow_when;    // a request whose prompt holds this is slow as well
  int always_status = 0;
  unsigned long long seed = 1;
  std::string marker = "★";
  std::string model = "mock-model";
  bool spaces_apart = false; // --tokenizer spaces-apart (default: words, spaces joined to the next word)
  int threads = 160;        // one per keep-alive connection: at least the client's concurrency
  std::vector<std::pair<std::string, std::string>> replies;  // (when, reply), first match wins
  std::string flavor = "plain";   // plain | vllm | llama.cpp | sglang | tgi
  std::string model_path = "/models/mock-7b-q4_k_m.gguf";
  int ctx_size = 8192, slots = 4, max_model_len = 4096;
  bool tokenize = true;     // --no-tokenize: no /tokenize (a server that does not count, e.g. behind a proxy)
  bool echo_headers = false;
  std::string body_mode;    // "", endless, endless-error, huge
  size_t huge_bytes = 32 * 1024 * 1024;
};

// The request's headers, one "Name: value" a line, as a server that echoes them would write them.
std::string header_dump(const httplib::Request& req) {
  std::string out;
  for (const auto& [name, value] : req.headers) out += name + ": " + value + "\n";
  return out;
}

std::string escape_slashes(std::string s) {
  for (size_t at = 0; (at = s.find('/', at)) != std::string::npos; at += 2) s.replace(at, 1, "\\/");
  return s;
}

// Answers the n-th request in the n-th hostile way of --echo-headers.
void echo_headers(const httplib::Request& req, httplib::Response& res, long long n) {
  const std::string headers = header_dump(req);
  switch (n % 6) {
  case 0:
    res.status = 400;
    res.set_content("bad request; you sent:\n" + headers, "text/plain");
    return;
  case 1:
    res.status = 500;
    res.set_content(nlohmann::json{{"error", {{"message", std::string(250, '.') + headers}}}}.dump(), "application/json");
    return;
  case 2:
    res.set_content(nlohmann::json{{"error", {{"message", "unauthorised: " + headers}}}}.dump(), "application/json");
    return;
  case 3:
  case 4: {
    std::string answer = headers;
    if (n % 6 == 4)
      for (char& c : answer) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    nlohmann::json reply = {{"object", "chat.completion"},
                            {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", answer}}}, {"finish_reason", "stop"}}}}};
    res.set_content(reply.dump(), "application/json");
    return;
  }
  default:
    res.set_content(escape_slashes(nlohmann::json{{"error", {{"message", headers}}}}.dump()), "application/json");
  }
}

// --body-mode: replies that never end, or are huge.
void hostile_body(const Options& o, httplib::Response& res) {
  if (o.body_mode == "huge") {
    const std::string head = R"({"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ")";
    const std::string tail = R"("}}]})";
    const size_t total = head.size() + o.huge_bytes + tail.size();
    // The whole reply as head + 'a' * huge_bytes + tail, served a 64 KiB window at a time.
    res.set_content_provider(total, "application/json", [head, tail, total](size_t offset, size_t length, httplib::DataSink& sink) {
      const size_t end = offset + std::min<size_t>(length, 65536), fill_end = total - tail.size();
      std::string chunk;
      if (offset < head.size()) chunk += head.substr(offset, end - offset);
      const size_t fill_from = std::max(offset, head.size()), fill_to = std::min(end, fill_end);
      if (fill_to > fill_from) chunk.append(fill_to - fill_from, 'a');
      if (end > fill_end) chunk += tail.substr(std::max(offset, fill_end) - fill_end, end - std::max(offset, fill_end));
      return sink.write(chunk.data(), chunk.size());
    });
    return;
  }
  if (o.body_mode == "endless-error") res.status = 500;
  res.set_chunked_content_provider("application/json", [](size_t offset, httplib::DataSink& sink) {
    static const std::string block(65536, 'a');
    if (offset == 0) {
      const std::string head = R"({"choices": [{"message": {"content": ")";
      if (!sink.write(head.data(), head.size())) return false;
    }
    return sink.write(block.data(), block.size());
  });
}

// The scripted reply for a request whose text holds a rule's `when`, if any.
const std::string* scripted_reply(const Options& o, const nlohmann::json& body) {
  std::string all;
  if (body.contains("messages") && body["messages"].is_array())
    for (const auto& m : body["messages"])
      if (m.is_object() && m.contains("content") && m["content"].is_string()) all += m["content"].get<std::string>() + "\n";
  if (body.contains("prompt")) all += body["prompt"].is_string() ? body["prompt"].get<std::string>() : body["prompt"].dump();
  for (const auto& [when, reply] : o.replies)
    if (all.find(when) != std::string::npos) return &reply;
  return nullptr;
}

void load_replies(Options& o, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "keval-mock-server: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("when") || !j.contains("reply")) {
      std::fprintf(stderr, "keval-mock-server: %s: each line needs {\"when\": …, \"reply\": …}\n", path.c_str());
      std::exit(2);
    }
    o.replies.emplace_back(j["when"].get<std::string>(), j["reply"].get<std::string>());
  }
}

uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// A uniform value in [0, 1) from a hash: deterministic fault and answer choices.
double unit(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return static_cast<double>(h >> 11) / static_cast<double>(1ULL << 53);
}

struct Stats {
  std::mutex mutex;
  long long total = 0;
  std::map<std::string, long long> per_path;
  std::unordered_map<uint64_t, int> attempts_by_body;        // body hash -> requests seen
  std::unordered_map<std::string, int> ok_by_prompt;         // prompt -> successful replies
  std::set<std::string> repeated_after_success;              // prompts asked again after a good reply
  std::unordered_map<std::string, int> requests_by_prompt;
  std::unordered_map<uint64_t, std::chrono::steady_clock::time_point> last_seen;
  double min_retry_gap_ms = -1;                              // smallest gap between attempts of one body
  std::string last_authorization;
  double first_request_s = -1, last_request_s = -1;           // seconds since the server started
};

// The labels of option lines ("A. …", "1) …") and which of them carries the marker.
std::string pick_label(const std::string& prompt, const std::string& marker) {
  std::vector<std::string> labels;
  std::string marked;
  size_t pos = 0;
  while (pos <= prompt.size()) {
    size_t end = prompt.find('\n', pos);
    std::string line = prompt.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    size_t sep = line.find_first_of(".)");
    if (sep != std::string::npos && sep > 0 && sep <= 3 && line.size() > sep + 1 && line[sep + 1] == ' ') {
      std::string label = line.substr(0, sep);
      bool plain = true;
      for (unsigned char c : label) plain = plain && (std::isalnum(c) || c >= 0x80);
      if (plain) {
        labels.push_back(label);
        if (marked.empty() && line.find(marker) != std::string::npos) marked = label;
      }
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  if (!marked.empty()) return marked;
  if (labels.empty()) return "모르겠습니다";
  return labels[fnv1a(prompt) % labels.size()];
}

nlohmann::json echo_logprobs(const std::string& text, const std::string& marker, bool spaces_apart) {
  nlohmann::json tokens = nlohmann::json::array(), values = nlohmann::json::array(), offsets = nlohmann::json::array();
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && text[i] == ' ') ++i;
    // spaces-apart: a run of several spaces before a word leaves its last space to the word.
    if (spaces_apart && i - start > 1 && i < text.size()) --i;
    else
      while (i < text.size() && text[i] != ' ') ++i;
    std::string token = text.substr(start, i - start);
    tokens.push_back(token);
    offsets.push_back(start);
    if (start == 0) values.push_back(nullptr);
    else if (token.find(marker) != std::string::npos) values.push_back(-0.05);
    else values.push_back(-1.0 - 3.0 * unit(fnv1a(token)));
  }
  return {{"tokens", tokens}, {"token_logprobs", values}, {"text_offset", offsets}, {"top_logprobs", nullptr}};
}

size_t token_count(const std::string& text, const Options& o) {
  return echo_logprobs(text, o.marker, o.spaces_apart)["tokens"].size();
}

long long token_id(const std::string& token) { return static_cast<long long>(fnv1a(token) % 150000); }

// The refusal of a prompt of `prompt_tokens` that, with `max_tokens` to generate, does not fit
// the flavor's context, as that server words it; false when it fits.
bool refuse_long_prompt(const Options& o, size_t prompt_tokens, long long max_tokens, httplib::Response& res) {
  const long long n = static_cast<long long>(prompt_tokens);
  if (o.flavor == "llama.cpp") {
    const long long n_ctx = o.ctx_size / std::max(1, o.slots);
    if (n < n_ctx) return false;
    res.status = 400;
    res.set_content(nlohmann::json{{"error", {{"code", 400},
                                              {"message", "request (" + std::to_string(n) + " tokens) exceeds the available context size (" +
                                                              std::to_string(n_ctx) + " tokens), try increasing it"},
                                              {"type", "exceed_context_size_error"},
                                              {"n_prompt_tokens", n},
                                              {"n_ctx", n_ctx}}}}.dump(),
                    "application/json");
    return true;
  }
  if (o.flavor != "vllm" && o.flavor != "sglang" && o.flavor != "tgi") return false;
  if (n + std::max(0LL, max_tokens) <= o.max_model_len) return false;
  const std::string limit = std::to_string(o.max_model_len), total = std::to_string(n + max_tokens);
  if (o.flavor == "vllm") {
    res.status = 400;
    res.set_content(nlohmann::json{{"error", {{"message", "This model's maximum context length is " + limit + " tokens. However, you requested " +
                                                              total + " tokens (" + std::to_string(n) + " in the messages, " +
                                                              std::to_string(max_tokens) + " in the completion). Please reduce the length "
                                                              "of the messages or completion."},
                                              {"type", "BadRequestError"}, {"param", nullptr}, {"code", 400}}}}.dump(),
                    "application/json");
  } else if (o.flavor == "sglang") {
    res.status = 400;
    res.set_content(nlohmann::json{{"object", "error"},
                                   {"message", "The input (" + std::to_string(n) + " tokens) is longer than the model's context length (" +
                                                   limit + " tokens)."},
                                   {"type", "BadRequestError"}, {"param", nullptr}, {"code", 400}}.dump(),
                    "application/json");
  } else {
    res.status = 422;
    res.set_content(nlohmann::json{{"error", "Input validation error: `inputs` tokens + `max_new_tokens` must be <= " + limit + ". Given: " +
                                                 std::to_string(n) + " `inputs` tokens and " + std::to_string(max_tokens) +
                                                 " `max_new_tokens`"},
                                   {"error_type", "validation"}}.dump(),
                    "application/json");
  }
  return true;
}

// `usage` as vLLM and llama.cpp's server send it, counted with this server's tokenizer (the cut
// echo_logprobs makes): prompt tokens over every message's content (no chat template) or every
// prompt of the request, completion tokens of the answer(s).
long long token_count(const std::string& text, bool spaces_apart) {
  return static_cast<long long>(echo_logprobs(text, "", spaces_apart)["tokens"].size());
}
nlohmann::json usage_of(long long prompt_tokens, long long completion_tokens) {
  return {{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

std::string prompt_key(const nlohmann::json& body) {
  if (body.contains("messages") && body["messages"].is_array() && !body["messages"].empty())
    return body["messages"].back().value("content", "");
  if (body.contains("prompt")) {
    const auto& p = body["prompt"];
    if (p.is_string()) return p.get<std::string>();
    if (p.is_array() && !p.empty() && p[0].is_string()) return p[0].get<std::string>();
  }
  return "";
}

} // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "keval-mock-server: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") o.port = std::stoi(next());
    else if (a == "--host") o.host = next();
    else if (a == "--p500") o.p500 = std::stod(next());
    else if (a == "--p429") o.p429 = std::stod(next());
    else if (a == "--pdrop") o.pdrop = std::stod(next());
    else if (a == "--pmalformed") o.pmalformed = std::stod(next());
    else if (a == "--retry-after") o.retry_after = std::stod(next());
    else if (a == "--fault-attempts") o.fault_attempts = std::stoi(next());
    else if (a == "--latency-ms") o.latency_ms = std::stoi(next());
    else if (a == "--jitter-ms") o.jitter_ms = std::stoi(next());
    else if (a == "--slow-share") o.slow_share = std::stod(next());
    else if (a == "--slow-ms") o.slow_ms = std::stoi(next());
    else if (a == "--slow-when") o.slow_when = next();
    else if (a == "--always-status") o.always_status = std::stoi(next());
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--marker") o.marker = next();
    else if (a == "--model") o.model = next();
    else if (a == "--tokenizer") {
      std::string mode = next();
      if (mode != "words" && mode != "spaces-apart") {
        std::fprintf(stderr, "--tokenizer: words or spaces-apart\n");
        return 2;
      }
      o.spaces_apart = mode == "spaces-apart";
    }
    else if (a == "--threads") {
      o.threads = std::stoi(next());
      if (o.threads < 1 || o.threads > 4096) {
        std::fprintf(stderr, "keval-mock-server: --threads: 1 to 4096\n");
        return 2;
      }
    }
    else if (a == "--replies") load_replies(o, next());
    else if (a == "--flavor") o.flavor = next();
    else if (a == "--model-path") o.model_path = next();
    else if (a == "--ctx-size") o.ctx_size = std::stoi(next());
    else if (a == "--slots") o.slots = std::stoi(next());
    else if (a == "--max-model-len") o.max_model_len = std::stoi(next());
    else if (a == "--no-tokenize") o.tokenize = false;
    else if (a == "--echo-headers") o.echo_headers = true;
    else if (a == "--body-mode") o.body_mode = next();
    else if (a == "--huge-bytes") o.huge_bytes = std::stoull(next());
    else {
      std::fprintf(stderr, "keval-mock-server: unknown option %s (see the comment atop mock_server.cc)\n", a.c_str());
      return 2;
    }
  }

  httplib::Server server;
  const int threads = o.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_keep_alive_max_count(1000000);
  server.set_keep_alive_timeout(30);
  server.set_tcp_nodelay(true);
  Stats stats;
  const auto started = std::chrono::steady_clock::now();

  server.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
    const long long now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    nlohmann::json model = {{"id", o.model}, {"object", "model"}, {"owned_by", "keval"}};
    if (o.flavor == "vllm") {
      model = {{"id", o.model}, {"object", "model"}, {"created", now}, {"owned_by", "vllm"}, {"root", o.model_path},
               {"parent", nullptr}, {"max_model_len", o.max_model_len}, {"permission", nlohmann::json::array()}};
    } else if (o.flavor == "sglang") {
      model = {{"id", o.model}, {"object", "model"}, {"created", now}, {"owned_by", "sglang"}, {"root", o.model_path},
               {"max_model_len", o.max_model_len}};
    } else if (o.flavor == "tgi") {
      model = {{"id", o.model}, {"object", "model"}, {"created", 0}, {"owned_by", o.model}};
    } else if (o.flavor == "llama.cpp") {
      const unsigned long long h = fnv1a(o.model_path);
      model = {{"id", o.model_path}, {"object", "model"}, {"created", now}, {"owned_by", "llamacpp"},
               {"meta", {{"vocab_type", 2}, {"n_vocab", 151936}, {"n_ctx_train", 32768}, {"n_embd", 3584},
                         {"n_params", 7000000000ULL + h % 1000000}, {"size", 4000000000ULL + h % 1000000}}}};
    }
    nlohmann::json j = {{"object", "list"}, {"data", {model}}};
    res.set_content(j.dump(), "application/json");
  });
  if (o.flavor == "llama.cpp")
    server.Get("/props", [&](const httplib::Request&, httplib::Response& res) {
      nlohmann::json j = {{"default_generation_settings", {{"n_ctx", o.ctx_size / std::max(1, o.slots)}, {"temperature", 0.8}}},
                          {"total_slots", o.slots},
                          {"model_path", o.model_path},
                          {"build_info", "b0-mock"}};
      res.set_content(j.dump(), "application/json");
    });

  if (o.flavor == "tgi")
    server.Get("/info", [&](const httplib::Request&, httplib::Response& res) {
      nlohmann::json j = {{"model_id", o.model}, {"model_sha", "0123456789abcdef0123456789abcdef01234567"},
                          {"model_pipeline_tag", "text-generation"}, {"max_concurrent_requests", 128}, {"max_best_of", 2},
                          {"max_stop_sequences", 4}, {"max_input_tokens", o.max_model_len - 1},
                          {"max_total_tokens", o.max_model_len}, {"validation_workers", 2}, {"max_client_batch_size", 4},
                          {"router", "text-generation-router"}, {"version", "3.3.6"}, {"sha", nullptr}, {"docker_label", nullptr}};
      res.set_content(j.dump(), "application/json");
    });

  // Token counting, in each server's shape (plain: none).
  auto tokenize = [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(stats.mutex);
      ++stats.per_path[req.path];
    }
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    const char* field = o.flavor == "llama.cpp" ? "content" : o.flavor == "tgi" ? "inputs" : "prompt";
    if (!body.is_object() || !body.contains(field) || !body[field].is_string()) {
      res.status = o.flavor == "tgi" ? 422 : 400;
      res.set_content(nlohmann::json{{"error", std::string("missing field `") + field + "`"}}.dump(), "application/json");
      return;
    }
    const std::string text = body[field].get<std::string>();
    const nlohmann::json echoed = echo_logprobs(text, o.marker, o.spaces_apart);
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& t : echoed["tokens"]) ids.push_back(token_id(t.get<std::string>()));
    nlohmann::json reply;
    if (o.flavor == "llama.cpp") {
      reply = {{"tokens", ids}};
    } else if (o.flavor == "tgi") {
      reply = nlohmann::json::array();
      for (size_t i = 0; i < ids.size(); ++i) {
        const size_t start = echoed["text_offset"][i];
        const std::string t = echoed["tokens"][i];
        reply.push_back({{"id", ids[i]}, {"text", t}, {"start", start}, {"stop", start + t.size()}});
      }
    } else {
      reply = {{"count", ids.size()}, {"max_model_len", o.max_model_len}, {"tokens", ids}, {"token_strs", nullptr}};
    }
    res.set_content(reply.dump(), "application/json");
  };
  if (o.flavor != "plain" && o.tokenize) {
    server.Post("/tokenize", tokenize);
    if (o.flavor == "sglang") server.Post("/v1/tokenize", tokenize);
  }

  // SGLang's and TGI's native generation endpoint, with their prompt log-probs.
  auto generate = [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(stats.mutex);
      ++stats.total;
      ++stats.per_path[req.path];
    }
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (o.flavor == "tgi") {
      if (!body.is_object() || !body.contains("inputs") || !body["inputs"].is_string()) {
        res.status = 422;
        res.set_content(R"({"error": "Failed to deserialize the JSON body into the target type: missing field `inputs`", "error_type": "validation"})",
                        "application/json");
        return;
      }
      const std::string text = body["inputs"].get<std::string>();
      const nlohmann::json params = body.value("parameters", nlohmann::json::object());
      const long long max_new = params.value("max_new_tokens", 100LL);
      if (refuse_long_prompt(o, token_count(text, o), max_new, res)) return;
      std::string generated(" ");  // built in two steps: GCC 12 warns (-Wrestrict) on " " + std::string
      generated += pick_label(text, o.marker);
      nlohmann::json reply = {{"generated_text", generated}};
      if (params.value("details", false)) {
        nlohmann::json prefill = nlohmann::json::array();
        if (params.value("decoder_input_details", false)) {
          const nlohmann::json echoed = echo_logprobs(text, o.marker, o.spaces_apart);
          for (size_t i = 0; i < echoed["tokens"].size(); ++i)
            prefill.push_back({{"id", token_id(echoed["tokens"][i])}, {"text", echoed["tokens"][i]}, {"logprob", echoed["token_logprobs"][i]}});
        }
        reply["details"] = {{"finish_reason", "length"}, {"generated_tokens", 1}, {"seed", nullptr}, {"prefill", prefill},
                            {"tokens", {{{"id", token_id(generated)}, {"text", generated}, {"logprob", -0.25}, {"special", false}}}}};
      }
      res.set_content(reply.dump(), "application/json");
      return;
    }
    // SGLang
    if (!body.is_object() || !body.contains("text") || (!body["text"].is_string() && !body["text"].is_array())) {
      res.status = 400;
      res.set_content(R"({"object": "error", "message": "Either text, input_ids or input_embeds should be provided.", "type": "BadRequestError", "param": null, "code": 400})",
                      "application/json");
      return;
    }
    const nlohmann::json sampling = body.value("sampling_params", nlohmann::json::object());
    const long long max_new = sampling.value("max_new_tokens", 128LL);
    const bool logprobs = body.value("return_logprob", false) && body.value("logprob_start_len", -1) == 0;
    std::vector<std::string> texts;
    if (body["text"].is_string()) texts.push_back(body["text"].get<std::string>());
    else
      for (const auto& t : body["text"]) texts.push_back(t.is_string() ? t.get<std::string>() : t.dump());
    nlohmann::json replies = nlohmann::json::array();
    for (const auto& text : texts) {
      const nlohmann::json echoed = echo_logprobs(text, o.marker, o.spaces_apart);
      if (refuse_long_prompt(o, echoed["tokens"].size(), max_new, res)) return;
      nlohmann::json input = nlohmann::json::array();
      if (logprobs)
        for (size_t i = 0; i < echoed["tokens"].size(); ++i)
          input.push_back({echoed["token_logprobs"][i], token_id(echoed["tokens"][i]), nullptr});
      std::string generated;
      if (max_new > 0) (generated = " ") += pick_label(text, o.marker);
      replies.push_back({{"text", generated},
                         {"meta_info", {{"id", "mock-" + std::to_string(fnv1a(text) % 1000000)},
                                        {"finish_reason", {{"type", "length"}, {"length", max_new}}},
                                        {"prompt_tokens", echoed["tokens"].size()},
                                        {"completion_tokens", max_new > 0 ? 1 : 0},
                                        {"cached_tokens", 0},
                                        {"input_token_logprobs", input},
                                        {"output_token_logprobs", nlohmann::json::array()}}}});
    }
    res.set_content((body["text"].is_string() ? replies[0] : replies).dump(), "application/json");
  };
  if (o.flavor == "sglang" || o.flavor == "tgi") server.Post("/generate", generate);

  // /stats?prompts=1 adds how often each prompt was requested.
  server.Get("/stats", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(stats.mutex);
    long long repeated = 0;
    nlohmann::json repeated_prompts = nlohmann::json::array();
    for (const auto& [prompt, n] : stats.requests_by_prompt)
      if (n > 1) {
        ++repeated;
        repeated_prompts.push_back(prompt);
      }
    nlohmann::json j = {{"total", stats.total},
                        {"per_path", stats.per_path},
                        {"distinct_prompts", stats.requests_by_prompt.size()},
                        {"prompts_requested_more_than_once", repeated},
                        {"repeated_prompts", repeated_prompts},
                        {"repeated_after_success", stats.repeated_after_success},
                        {"min_retry_gap_ms", stats.min_retry_gap_ms},
                        {"last_authorization", stats.last_authorization},
                        {"first_request_s", stats.first_request_s},
                        {"last_request_s", stats.last_request_s}};
    if (req.has_param("prompts")) j["prompt_counts"] = stats.requests_by_prompt;
    res.set_content(j.dump(), "application/json");
  });

  auto handle = [&](const httplib::Request& req, httplib::Response& res, bool chat) {
    uint64_t body_hash = fnv1a(req.body, fnv1a(std::to_string(o.seed)));
    int attempt = 0;
    long long request_number = 0;
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    std::string prompt = body.is_discarded() ? std::string() : prompt_key(body);
    {
      std::lock_guard lock(stats.mutex);
      request_number = stats.total;
      ++stats.total;
      ++stats.per_path[req.path];
      double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (stats.first_request_s < 0) stats.first_request_s = t;
      stats.last_request_s = t;
      attempt = stats.attempts_by_body[body_hash]++;
      ++stats.requests_by_prompt[prompt];
      if (stats.ok_by_prompt.count(prompt)) stats.repeated_after_success.insert(prompt);
      auto now = std::chrono::steady_clock::now();
      auto it = stats.last_seen.find(body_hash);
      if (it != stats.last_seen.end()) {
        double gap = std::chrono::duration<double, std::milli>(now - it->second).count();
        if (stats.min_retry_gap_ms < 0 || gap < stats.min_retry_gap_ms) stats.min_retry_gap_ms = gap;
      }
      stats.last_seen[body_hash] = now;
      stats.last_authorization = req.get_header_value("Authorization");
    }
    // A slow request is slow by its body alone: its retries and the same request in another run too.
    const bool slow = (o.slow_share > 0 && unit(body_hash ^ 0x5bd1e995ULL) < o.slow_share) ||
                      (!o.slow_when.empty() && prompt.find(o.slow_when) != std::string::npos);
    if (slow) {
      std::this_thread::sleep_for(std::chrono::milliseconds(o.slow_ms));
    } else if (o.latency_ms > 0 || o.jitter_ms > 0) {
      int jitter = o.jitter_ms > 0 ? static_cast<int>(unit(body_hash + static_cast<uint64_t>(attempt) * 7919) * o.jitter_ms) : 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(o.latency_ms + jitter));
    }
    if (o.echo_headers) return echo_headers(req, res, request_number);
    if (!o.body_mode.empty()) return hostile_body(o, res);
    if (o.always_status) {
      res.status = o.always_status;
      res.set_content(R"({"error": {"message": "mock: this server answers every request with this status"}})", "application/json");
      return;
    }
    if (body.is_discarded() || !body.is_object()) {
      res.status = 400;
      res.set_content(R"({"error": {"message": "body is not a JSON object"}})", "application/json");
      return;
    }
    if (attempt < o.fault_attempts) {
      double u = unit(body_hash ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(attempt + 1)));
      if ((u -= o.p500) < 0) {
        res.status = 500;
        res.set_content(R"({"error": {"message": "mock: injected server error"}})", "application/json");
        return;
      }
      if ((u -= o.p429) < 0) {
        res.status = 429;
        res.set_header("Retry-After", std::to_string(static_cast<int>(o.retry_after)));
        res.set_content(R"({"error": {"message": "mock: slow down"}})", "application/json");
        return;
      }
      if ((u -= o.pdrop) < 0) {
        // Promise a body, then close the connection without sending it.
        res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink&) { return false; });
        return;
      }
      if ((u -= o.pmalformed) < 0) {
        res.set_content(R"({"choices": [{"message": {"content": "truncat)", "application/json");
        return;
      }
    }
    {
      // The longest prompt of the request against the flavor's context.
      size_t longest = 0;
      if (chat && body.contains("messages") && body["messages"].is_array()) {
        std::string all;
        for (const auto& m : body["messages"])
          if (m.is_object() && m.contains("content") && m["content"].is_string()) all += m["content"].get<std::string>() + "\n";
        longest = token_count(all, o);
      } else if (body.contains("prompt")) {
        const auto& p = body["prompt"];
        if (p.is_string()) longest = token_count(p.get<std::string>(), o);
        else if (p.is_array())
          for (const auto& x : p)
            if (x.is_string()) longest = std::max(longest, token_count(x.get<std::string>(), o));
      }
      const long long max_tokens = body.contains("max_tokens") && body["max_tokens"].is_number_integer() ? body["max_tokens"].get<long long>() : 16;
      if (refuse_long_prompt(o, longest, max_tokens, res)) return;
    }
    nlohmann::json reply = {{"id", "mock-" + std::to_string(body_hash % 1000000)}, {"model", o.model}, {"created", 0}};
    if (chat) {
      std::string answer("정답은 ");
      answer += pick_label(prompt, o.marker);
      answer += "입니다.";
      if (const std::string* scripted = scripted_reply(o, body)) answer = *scripted;
      if (body.value("stream", false)) {
        std::string sse;
        std::string piece;
        for (size_t i = 0; i < answer.size(); ++i) {
          piece += answer[i];
          bool boundary = i + 1 == answer.size() || (static_cast<unsigned char>(answer[i + 1]) & 0xC0) != 0x80;
          if (!boundary) continue;
          nlohmann::json chunk = {{"object", "chat.completion.chunk"}, {"choices", {{{"index", 0}, {"delta", {{"content", piece}}}}}}};
          sse += "data: " + chunk.dump() + "\n\n";
          piece.clear();
        }
        sse += "data: [DONE]\n\n";
        res.set_content(sse, "text/event-stream");
      } else {
        reply["object"] = "chat.completion";
        reply["choices"] = {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", answer}}}, {"finish_reason", "stop"}}};
        long long prompt_tokens = 0;
        for (const auto& m : body.value("messages", nlohmann::json::array()))
          if (m.is_object() && m.contains("content") && m["content"].is_string())
            prompt_tokens += token_count(m["content"].get<std::string>(), o.spaces_apart);
        reply["usage"] = usage_of(prompt_tokens, token_count(answer, o.spaces_apart));
        res.set_content(reply.dump(), "application/json");
      }
    } else {
      reply["object"] = "text_completion";
      nlohmann::json choices = nlohmann::json::array();
      const auto& p = body.contains("prompt") ? body["prompt"] : nlohmann::json("");
      std::vector<std::string> prompts;
      if (p.is_array())
        for (const auto& x : p) prompts.push_back(x.is_string() ? x.get<std::string>() : x.dump());
      else prompts.push_back(p.is_string() ? p.get<std::string>() : p.dump());
      // llama.cpp's server accepts echo and ignores it; TGI's /v1/completions has no echo.
      bool echo = body.value("echo", false) && o.flavor != "llama.cpp" && o.flavor != "tgi";
      const bool llama_logprobs = o.flavor == "llama.cpp" && body.contains("logprobs") && !body["logprobs"].is_null();
      long long prompt_tokens = 0, completion_tokens = 0;
      // Choices come back in reverse order: clients must match them by index.
      for (size_t k = prompts.size(); k-- > 0;) {
        prompt_tokens += token_count(prompts[k], o.spaces_apart);
        nlohmann::json c = {{"index", k}, {"finish_reason", "length"}};
        if (echo) {
          c["text"] = prompts[k];
          c["logprobs"] = echo_logprobs(prompts[k], o.marker, o.spaces_apart);
        } else {
          std::string text(" ");
          text += pick_label(prompts[k], o.marker);
          if (const std::string* scripted = scripted_reply(o, body)) text = *scripted;
          c["text"] = text;
          completion_tokens += token_count(text, o.spaces_apart);
          c["logprobs"] = nullptr;
          if (llama_logprobs)
            c["logprobs"] = {{"content", {{{"id", 362}, {"token", text}, {"logprob", -0.25}, {"bytes", nlohmann::json::array()},
                                          {"top_logprobs", nlohmann::json::array()}}}}};
        }
        choices.push_back(c);
      }
      reply["choices"] = choices;
      reply["usage"] = usage_of(prompt_tokens, completion_tokens);
      res.set_content(reply.dump(), "application/json");
    }
    std::lock_guard lock(stats.mutex);
    ++stats.ok_by_prompt[prompt];
  };
  server.Post("/v1/chat/completions", [&](const httplib::Request& q, httplib::Response& r) { handle(q, r, true); });
  server.Post("/v1/completions", [&](const httplib::Request& q, httplib::Response& r) { handle(q, r, false); });

  // Debian's cpp-httplib is a compiled library with a listen backlog of 5: a client opening many
  // connections at once would see SYNs dropped and retried a second later. The socket is kept
  // here so its backlog can be raised once bound (listen() again only changes the backlog).
  int listen_fd = -1;
  server.set_socket_options([&listen_fd](socket_t fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = fd;
  });
  int port = o.port;
  if (port == 0) port = server.bind_to_any_port(o.host);
  else if (!server.bind_to_port(o.host, port)) port = -1;
  if (port <= 0) {
    std::fprintf(stderr, "keval-mock-server: cannot listen on %s:%d\n", o.host.c_str(), o.port);
    return 1;
  }
  if (listen_fd >= 0) ::listen(listen_fd, 4096);
  std::printf("%d\n", port);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
