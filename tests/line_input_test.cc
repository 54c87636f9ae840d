// Line-based input from outside (replay files, exec program replies): strict JSON, a cap on a
// line's length, out-of-range numbers and duplicate keys refused with file:line, never a crash.
#include <chrono>
#include <fstream>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "backend.h"
#include "backends/exec_protocol.h"
#include "json_line.h"
#include "support/cli.h"
#include "support/errors.h"
#include "line_reader.h"

namespace keval {
namespace {

using testing::expect_input_error;
using testing::ScratchDir;
using testing::write_file;

std::string parse_error(std::string_view line) {
  std::string error;
  EXPECT_FALSE(parse_json_line(line, &error)) << line;
  return error;
}

TEST(JsonLine, ReadsValidJsonWithHangul) {
  std::string error;
  auto j = parse_json_line(R"({"task": "kobest_copa", "id": "1", "response": "정답은 2번입니다.", "nested": {"a": 1}})", &error);
  ASSERT_TRUE(j) << error;
  EXPECT_EQ((*j)["response"], "정답은 2번입니다.");
}

TEST(JsonLine, RefusesDuplicateKeysAtAnyDepth) {
  EXPECT_EQ(parse_error(R"({"response": "a", "response": "b"})"), "duplicate key 'response'");
  EXPECT_EQ(parse_error(R"({"a": {"x": 1, "x": 2}})"), "duplicate key 'x'");
  EXPECT_EQ(parse_error(R"([{"x": 1}, {"y": 1, "y": 2}])"), "duplicate key 'y'");
  // The same key in sibling objects is fine.
  std::string error;
  EXPECT_TRUE(parse_json_line(R"([{"x": 1}, {"x": 2}, {"o": {"x": 3}, "x": 4}])", &error)) << error;
}

TEST(JsonLine, RefusesNumbersOutOfRange) {
  EXPECT_NE(parse_error(R"({"logprobs": [1e999]})").find("out of range"), std::string::npos);
  EXPECT_NE(parse_error(R"({"logprobs": [-1e400]})").find("out of range"), std::string::npos);
  EXPECT_FALSE(parse_error(R"({"logprobs": [NaN]})").empty());
  EXPECT_FALSE(parse_error(R"({"logprobs": [Infinity]})").empty());
}

TEST(JsonLine, RefusesInvalidUtf8AndTruncation) {
  EXPECT_FALSE(parse_error("{\"response\": \"\xC3\x28\"}").empty());
  EXPECT_FALSE(parse_error(R"({"response": "끝나지 않)").empty());
  EXPECT_FALSE(parse_error("").empty());
}

TEST(JsonLine, LogprobIsFiniteAndNotPositive) {
  EXPECT_TRUE(is_logprob(-0.5));
  EXPECT_TRUE(is_logprob(0));
  EXPECT_FALSE(is_logprob(0.5));
  EXPECT_FALSE(is_logprob("-0.5"));
  EXPECT_FALSE(is_logprob(nullptr));
  EXPECT_FALSE(is_logprob(-std::numeric_limits<double>::infinity()));
}

TEST(LineReader, ReadsLinesWithNumbersStrippingCrAndBom) {
  ScratchDir dir;
  write_file(dir.path() / "f.txt", "\xEF\xBB\xBF첫째\r\n\n셋째\n넷째");
  LineReader reader(dir / "f.txt");
  std::string line;
  std::vector<std::pair<size_t, std::string>> got;
  while (reader.next(line)) got.emplace_back(reader.line_number(), line);
  std::vector<std::pair<size_t, std::string>> want = {{1, "첫째"}, {2, ""}, {3, "셋째"}, {4, "넷째"}};
  EXPECT_EQ(got, want);
}

TEST(LineReader, RefusesALineOverTheCapWithItsNumber) {
  ScratchDir dir;
  write_file(dir.path() / "f.txt", "short\n" + std::string(200000, 'x') + "\nafter\n");
  LineReader reader(dir / "f.txt", 100000);
  std::string line;
  ASSERT_TRUE(reader.next(line));
  auto e = expect_input_error([&] { reader.next(line); });
  EXPECT_EQ(e, dir / "f.txt" + ":2: line longer than 100000 bytes (the limit)");
  // A last line without a newline is capped too.
  write_file(dir.path() / "g.txt", std::string(200000, 'x'));
  LineReader last(dir / "g.txt", 100000);
  EXPECT_NE(expect_input_error([&] { last.next(line); }).find("g.txt:1: line longer"), std::string::npos);
  // Exactly at the cap is fine.
  write_file(dir.path() / "h.txt", std::string(100000, 'x') + "\n");
  LineReader exact(dir / "h.txt", 100000);
  ASSERT_TRUE(exact.next(line));
  EXPECT_EQ(line.size(), 100000u);
  EXPECT_FALSE(exact.next(line));
}

TEST(LineReader, DirectoryOrMissingFileIsAnInputError) {
  ScratchDir dir;
  std::string line;
  EXPECT_NE(expect_input_error([&] { LineReader r(dir / "none.jsonl"); }).find("cannot read"), std::string::npos);
  EXPECT_NE(expect_input_error([&] { LineReader r(dir.path().string()); r.next(line); }).find("cannot read"),
            std::string::npos);
}

std::string replay_error(const std::string& content, bool judge = false) {
  ScratchDir dir;
  write_file(dir.path() / "r.jsonl", content);
  BackendOptions o;
  o.kind = "replay";
  o.responses_file = dir / "r.jsonl";
  o.judge = judge;
  std::string e = expect_input_error([&] { make_backend(o); });
  const std::string prefix = dir / "r.jsonl";
  return e.rfind(prefix, 0) == 0 ? "r.jsonl" + e.substr(prefix.size()) : e;
}

const std::string k_good = R"({"task": "kobest_copa", "id": "1", "response": "1"})"
                           "\n";

TEST(ReplayInput, DuplicateKeyNamesTheLine) {
  auto e = replay_error(k_good + R"({"task": "kobest_copa", "id": "2", "response": "1", "response": "2"})");
  EXPECT_EQ(e, "r.jsonl:2: malformed JSON: duplicate key 'response'");
  auto judge = replay_error(k_good + R"({"task": "logickor", "id": "2", "judge": ["점수: 9"], "judge": ["점수: 1"]})", true);
  EXPECT_EQ(judge, "r.jsonl:2: malformed JSON: duplicate key 'judge'");
}

TEST(ReplayInput, NonFiniteOrPositiveLogprobsNameTheLine) {
  EXPECT_NE(replay_error(k_good + R"({"task": "t", "id": "2", "logprobs": [-1, 1e999]})").find("r.jsonl:2: malformed JSON: a number out of range"),
            std::string::npos);
  EXPECT_EQ(replay_error(R"({"task": "t", "id": "2", "logprobs": [-1, 3.5]})"),
            "r.jsonl:1: field 'logprobs' must hold log-probabilities (finite numbers <= 0), not 3.5");
  EXPECT_NE(replay_error(R"({"task": "t", "id": 99999999999999999999999, "response": "x"})").find("r.jsonl:1: field 'id'"),
            std::string::npos);
}

TEST(ReplayInput, InvalidUtf8NamesTheLine) {
  EXPECT_NE(replay_error(k_good + "{\"task\": \"t\", \"id\": \"2\", \"response\": \"\xFF\"}\n").find("r.jsonl:2: malformed JSON"),
            std::string::npos);
}

TEST(ReplayInput, HugeLineFailsFastWithItsNumber) {
  ScratchDir dir;
  {
    // 80 MiB in one line, past the 64 MiB cap.
    std::ofstream out(dir / "r.jsonl", std::ios::binary);
    out << k_good << R"({"task": "t", "id": "2", "response": ")";
    std::string block(1 << 20, 'a');
    for (int i = 0; i < 80; ++i) out << block;
    out << "\"}\n";
  }
  BackendOptions o;
  o.kind = "replay";
  o.responses_file = dir / "r.jsonl";
  const auto start = std::chrono::steady_clock::now();
  auto e = expect_input_error([&] { make_backend(o); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(e, dir / "r.jsonl" + ":2: line longer than 64 MiB (the limit)");
}

TEST(ExecReply, ReadsTextLogprobsAndErrors) {
  auto text = parse_exec_reply(R"({"id": "r1", "text": "정답은 3번"})", "model");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->id, "r1");
  EXPECT_TRUE(text->response.ok());
  EXPECT_EQ(text->response.text, "정답은 3번");
  auto logprobs = parse_exec_reply(R"({"id": "r2", "logprobs": [-0.31, -1.72]})", "model");
  ASSERT_TRUE(logprobs);
  EXPECT_EQ(logprobs->response.logprobs, (std::vector<double>{-0.31, -1.72}));
  auto error = parse_exec_reply(R"({"id": "r3", "error": "메모리 부족"})", "model");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->response.failure, FailureKind::backend);
  EXPECT_EQ(error->response.message, "exec program 'model': 메모리 부족");
}

TEST(ExecReply, BadFieldsAreMalformedRepliesAndNonRepliesAreNullopt) {
  for (const char* line : {R"({"id": "r1", "text": 5})", R"({"id": "r1", "logprobs": [-1, 2]})",
                           R"({"id": "r1", "logprobs": "x"})", R"({"id": "r1"})"}) {
    auto reply = parse_exec_reply(line, "model");
    ASSERT_TRUE(reply) << line;
    EXPECT_EQ(reply->response.failure, FailureKind::malformed) << line;
  }
  for (const char* line : {"loading model...", R"({"id": 1, "text": "x"})", R"(["r1"])", "",
                           R"({"id": "r1", "id": "r2", "text": "x"})", R"({"id": "r1", "logprobs": [1e999]})"})
    EXPECT_FALSE(parse_exec_reply(line, "model")) << line;
}

} // namespace
} // namespace keval
