// The judge of dialogue tasks end to end: the keval binary with keval-mock-server on 127.0.0.1 as
// the judge, scripted (--replies) to give well-formed, malformed and non-Korean verdicts.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <cmath>
#include <filesystem>
#include <set>

#include <sqlite3.h>

#include "http/mock.h"

namespace keval {
namespace {

using testing::count_rows;
using testing::MockServer;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::stored_prompts;
using testing::write_file;


// (metric -> result row) of one task of the latest (or a named) run.
std::map<std::string, nlohmann::json> results_of(const std::string& db, const std::string& task, const std::string& run = "") {
  auto r = run_keval("results --json --db " + shell_quote(db) + (run.empty() ? "" : " --run " + run));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return out;
  for (const auto& t : j["tasks"])
    if (t["task"] == task) out[t["metric"].get<std::string>()] = t;
  out["run"] = j["run"];
  return out;
}

// How often the mock was asked a prompt holding `marker`, per distinct prompt.
std::vector<long long> asked(const MockServer& mock, const std::string& marker) {
  std::vector<long long> out;
  const nlohmann::json counts = mock.stats(true).value("prompt_counts", nlohmann::json::object());
  for (const auto& [prompt, n] : counts.items())
    if (prompt.find(marker) != std::string::npos) out.push_back(n.get<long long>());
  return out;
}

// KoMT-Bench's first ten questions (ids 81-90): one answer in English, one the judge cannot rate,
// the rest in Korean.
std::string komt_answers() {
  std::string out;
  for (int id = 81; id <= 90; ++id) {
    nlohmann::json turns;
    if (id == 82) turns = {"This answer is written entirely in English (answer-82).", "Still in English (answer-82)."};
    else if (id == 83) turns = {"하와이 여행 안내입니다. 판정불가-83", "모든 문장을 고쳤습니다. 판정불가-83"};
    else turns = {"하와이의 문화 체험과 명소를 소개하는 글입니다. 답변 " + std::to_string(id),
                  "요청하신 대로 다시 작성했습니다. 답변 " + std::to_string(id)};
    out += nlohmann::json({{"task", "komt_bench"}, {"id", std::to_string(id)}, {"responses", turns}}).dump() + "\n";
  }
  return out;
}

std::string judge_rules() {
  return nlohmann::json({{"when", "판정불가-83"}, {"reply", "이 답변은 평가하기 어렵습니다. 점수를 드릴 수 없습니다."}}).dump() + "\n" +
         nlohmann::json({{"when", "answer-82"}, {"reply", "The answer is helpful and accurate. Rating: [[8]]"}}).dump() + "\n" +
         nlohmann::json({{"when", ""}, {"reply", "평가: 질문의 요구를 대부분 충족했습니다.\n점수: [[7]]"}}).dump() + "\n";
}

TEST(Judge, MockJudgeWellFormedMalformedAndNonKoreanVerdicts) {
  ScratchDir dir;
  write_file(dir / "answers.jsonl", komt_answers());
  write_file(dir / "rules.jsonl", judge_rules());
  MockServer judge("--replies " + shell_quote(dir / "rules.jsonl"));
  ASSERT_GT(judge.port(), 0);
  const std::string db = dir / "k.db";
  const std::string judge_flags = " --judge-backend openai-chat --judge-model mock-judge --judge-base-url " + judge.url();
  auto r = run_keval("run --tasks komt_bench --limit 10 --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                     " --name first --no-progress --db " + shell_quote(db) + judge_flags);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("1 samples have no readable judge verdict"), std::string::npos) << r.out;

  auto res = results_of(db, "komt_bench");
  EXPECT_EQ(res["run"]["status"], "incomplete");
  // Nine samples rated: id 82 at 8 on both turns, seven others at 7; id 83 is a judge failure.
  ASSERT_TRUE(res.count("judge_score_no_penalty"));
  EXPECT_EQ(res["judge_score_no_penalty"]["n"], 9);
  EXPECT_EQ(res["judge_score_no_penalty"]["n_judge_failed"], 1);
  EXPECT_EQ(res["judge_score_no_penalty"]["n_failed"], 0);
  EXPECT_NEAR(res["judge_score_no_penalty"]["value"].get<double>(), (8.0 + 7 * 8) / 9.0, 1e-9);
  // The English answer is detected as not Korean: KoMT-Bench's rule gives sqrt(8) on both turns,
  // keval's Hangul-share rule 8 x sqrt(0) = 0.
  EXPECT_NEAR(res["judge_score"]["value"].get<double>(), (2 * std::sqrt(8.0) + 7 * 16) / 18.0, 1e-9);
  EXPECT_NEAR(res["judge_turn1"]["value"].get<double>(), (std::sqrt(8.0) + 7 * 8) / 9.0, 1e-9);
  EXPECT_NEAR(res["judge_score_hangul_share"]["value"].get<double>(), (0.0 + 7 * 16) / 18.0, 1e-9);

  // The unreadable verdicts were asked once per turn, as FastChat asks, stored, and never scored as a zero.
  const auto unreadable = asked(judge, "판정불가-83");
  ASSERT_EQ(unreadable.size(), 2u);
  for (long long n : unreadable) EXPECT_EQ(n, 1);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM judgements WHERE sample_id = '83' AND status = 'unparsed'"), 2);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM scores WHERE sample_id = '83' AND status = 'judge_failed'"), 1);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM judgements WHERE status = 'ok'"), 18);

  // The judge and its protocol are part of the run's recorded configuration.
  auto runs = run_keval("runs --json --db " + shell_quote(db));
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::string config_text;
  sqlite3_exec(handle, "SELECT config_json FROM runs WHERE name = 'first'", [](void* o, int, char** v, char**) {
    *static_cast<std::string*>(o) = v[0];
    return 0;
  }, &config_text, nullptr);
  sqlite3_close(handle);
  const auto config = nlohmann::json::parse(config_text);
  EXPECT_EQ(config["judge"]["kind"], "openai-chat");
  EXPECT_EQ(config["judge"]["model"], "mock-judge");
  const auto& task = config["tasks"][0];
  EXPECT_EQ(task["judge"]["protocol"], "mt_bench");
  EXPECT_EQ(task["judge"]["penalty"], "sqrt_score_if_not_korean");
  EXPECT_EQ(task["judge"]["prompt_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(task["judge"]["penalty_exempt"], nlohmann::json({"138", "140"}));

  // --resume asks the judge again only where it has no rating: two turns, one attempt each.
  const long long before = judge.stats().value("total", 0LL);
  r = run_keval("run --resume first --no-progress --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(judge.stats().value("total", 0LL) - before, 2);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM judgements WHERE sample_id = '83'"), 4);

  // The same evaluation again: every readable verdict comes from the cache.
  const long long cached_before = judge.stats().value("total", 0LL);
  r = run_keval("run --tasks komt_bench --limit 10 --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                " --name second --no-progress --db " + shell_quote(db) + judge_flags);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(judge.stats().value("total", 0LL) - cached_before, 2);
  auto again = results_of(db, "komt_bench", "second");
  EXPECT_EQ(again["judge_score"]["value"], res["judge_score"]["value"]);
}

TEST(Judge, LogicKorVerdictsWithMarkdownAreRead) {
  ScratchDir dir;
  std::string answers;
  for (int id = 1; id <= 42; ++id)
    answers += nlohmann::json({{"task", "logickor"}, {"id", std::to_string(id)},
                               {"responses", {"첫 번째 질문에 대한 한국어 답변입니다.", "후속 질문에 대한 답변입니다."}}}).dump() + "\n";
  write_file(dir / "answers.jsonl", answers);
  // A judge that bolds its labels, as GPT-4-class judges often do; the follow-up gets a 6.
  write_file(dir / "rules.jsonl",
             nlohmann::json({{"when", "**Follow-up Question.**"}, {"reply", "**평가:** 맥락과 일관됩니다.\n**점수:** 6"}}).dump() + "\n" +
             nlohmann::json({{"when", ""}, {"reply", "**평가:** 요구 사항을 충족합니다.\n**점수: 9**"}}).dump() + "\n");
  MockServer judge("--replies " + shell_quote(dir / "rules.jsonl"));
  const std::string db = dir / "k.db";
  const std::string secret = "sk-judge-비밀-4242";
  auto r = run_keval("run --tasks logickor --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                         " --no-progress --db " + shell_quote(db) +
                         " --judge-backend openai-chat --judge-model mock-judge --judge-base-url " + judge.url(),
                     "KEVAL_JUDGE_API_KEY=" + shell_quote(secret) + " ");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // The judge's key was sent, and is nowhere in what keval wrote.
  EXPECT_EQ(judge.stats().value("last_authorization", ""), "Bearer " + secret);
  EXPECT_EQ((r.out + r.err).find(secret), std::string::npos);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(testing::slurp(entry.path()).find(secret), std::string::npos) << entry.path();
  auto res = results_of(db, "logickor");
  EXPECT_EQ(res["run"]["status"], "complete");
  EXPECT_DOUBLE_EQ(res["judge_single_turn"]["value"].get<double>(), 9.0);
  EXPECT_DOUBLE_EQ(res["judge_multi_turn"]["value"].get<double>(), 6.0);
  EXPECT_DOUBLE_EQ(res["judge_score"]["value"].get<double>(), 7.5);
  EXPECT_EQ(res["judge_single_turn/수학(Math)"]["n"], 7);
  EXPECT_EQ(res["judge_single_turn"]["n_judge_failed"], 0);
  // The multi-turn judgement saw the whole conversation: both answers are in its prompt.
  const auto multi = asked(judge, "**Model's Response**\n첫 번째 질문에 대한 한국어 답변입니다.\n\n**Follow-up Question.**");
  EXPECT_EQ(multi.size(), 42u);
  for (long long n : multi) EXPECT_EQ(n, 1);
}

// A deterministic judge answers the same request the same way: an unreadable verdict is asked
// again with the protocol's reminder of the format added, which it can answer anew.
TEST(Judge, AnUnreadableVerdictIsAskedAgainWithTheFormatReminded) {
  ScratchDir dir;
  std::string answers;
  for (int id = 1; id <= 42; ++id)
    answers += nlohmann::json({{"task", "logickor"}, {"id", std::to_string(id)},
                               {"responses", {"첫 번째 답변입니다.", "두 번째 답변입니다."}}}).dump() + "\n";
  write_file(dir / "answers.jsonl", answers);
  // Rated only when the reminder is there (LogicKor's protocol reminds "점수: 숫자").
  write_file(dir / "rules.jsonl",
             nlohmann::json({{"when", "반드시 출력 형식을 지켜라"}, {"reply", "평가: 형식에 맞춰 다시 씁니다.\n점수: 8"}}).dump() + "\n" +
             nlohmann::json({{"when", ""}, {"reply", "좋은 답변입니다. 별다른 문제는 없습니다."}}).dump() + "\n");
  MockServer judge("--replies " + shell_quote(dir / "rules.jsonl"));
  const std::string db = dir / "k.db";
  auto r = run_keval("run --tasks logickor --limit 3 --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                     " --no-progress --db " + shell_quote(db) + " --judge-backend openai-chat --judge-model mock-judge --judge-base-url " +
                     judge.url());
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto res = results_of(db, "logickor");
  EXPECT_EQ(res["run"]["status"], "complete");
  EXPECT_DOUBLE_EQ(res["judge_score"]["value"].get<double>(), 8.0);
  EXPECT_EQ(res["judge_score"]["n_judge_failed"], 0);
  // Each of the 6 turns: one unreadable attempt, then one rated, whose request differs by the reminder.
  EXPECT_EQ(judge.stats().value("total", 0LL), 12);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM judgements WHERE attempt = 0 AND status = 'unparsed'"), 6);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM judgements WHERE attempt = 1 AND status = 'ok'"), 6);
  const auto first = stored_prompts(db, "SELECT request_json FROM judgements WHERE attempt = 0");
  const auto second = stored_prompts(db, "SELECT request_json FROM judgements WHERE attempt = 1");
  ASSERT_EQ(first.size(), 6u);
  ASSERT_EQ(second.size(), 6u);
  for (const auto& p : first) {
    EXPECT_EQ(p.find("반드시 출력 형식을 지켜라"), std::string::npos);
    EXPECT_TRUE(second.count(p + "\n\n반드시 출력 형식을 지켜라. 마지막 줄에 점수를 \"점수: 숫자\" 형식으로 쓴다. 예: 점수: 7")) << p;
  }
}

TEST(Judge, KilledWhileJudgingResumesToTheSameScores) {
  ScratchDir dir;
  std::string answers;
  for (int id = 81; id <= 160; ++id) {
    const std::string tag = id % 3 == 0 ? "특별한 답변 " : "평범한 답변 ";
    answers += nlohmann::json({{"task", "komt_bench"}, {"id", std::to_string(id)},
                               {"responses", {tag + std::to_string(id) + "입니다.", tag + std::to_string(id) + "을 고쳤습니다."}}})
                   .dump() + "\n";
  }
  write_file(dir / "answers.jsonl", answers);
  write_file(dir / "rules.jsonl", nlohmann::json({{"when", "특별한 답변"}, {"reply", "평가: 부족합니다. [[3]]"}}).dump() + "\n" +
                                      nlohmann::json({{"when", ""}, {"reply", "평가: 좋습니다. [[8]]"}}).dump() + "\n");
  const std::string rules = " --replies " + shell_quote(dir / "rules.jsonl");
  MockServer reference_judge("--latency-ms 30" + rules);
  MockServer judge("--latency-ms 30" + rules);
  auto run_with = [&](const MockServer& m, const std::string& db) {
    return " run --tasks komt_bench --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
           " --concurrency 2 --no-progress --judge-backend openai-chat --judge-model mock-judge --judge-base-url " + m.url() +
           " --db " + shell_quote(db);
  };
  ASSERT_EQ(run_keval(run_with(reference_judge, dir / "ref.db")).exit_code, 0);
  const std::string db = dir / "k.db";
  const std::string keval = std::string(KEVAL_BINARY);
  // 160 verdicts at 30 ms, two at a time. Each kill waits until verdicts have been committed
  // (the first: any; the second: 20 more than before), so it lands while the judge is being asked
  // however busy the machine is.
  const char* k_stored = "SELECT count(*) FROM judgements WHERE status = 'ok'";
  std::vector<std::pair<std::set<std::string>, nlohmann::json>> at_kill;
  long long stored_before = 0;
  for (int round = 0; round < 2; ++round) {
    const std::string cmd = round == 0 ? keval + run_with(judge, db) + " --name victim"
                                       : keval + " run --resume victim --no-progress --db " + shell_quote(db);
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string quiet = "exec " + cmd + " >/dev/null 2>&1";
      ::execl("/bin/sh", "sh", "-c", quiet.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_GT(pid, 0);
    const long long wanted = round == 0 ? 0 : stored_before + 20;
    for (int i = 0; i < 6000 && count_rows(db, k_stored) <= wanted; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    stored_before = count_rows(db, k_stored);
    at_kill.emplace_back(stored_prompts(db, "SELECT request_json FROM judgements WHERE status = 'ok'"), judge.stats(true)["prompt_counts"]);
  }
  auto last = run_keval("run --resume victim --no-progress --db " + shell_quote(db));
  ASSERT_EQ(last.exit_code, 0) << last.err;
  auto reference = results_of(dir / "ref.db", "komt_bench");
  auto resumed = results_of(db, "komt_bench");
  EXPECT_EQ(reference["judge_score"]["n"], 80);
  EXPECT_EQ(resumed["run"]["status"], "complete");
  for (const char* metric : {"judge_score", "judge_turn1", "judge_turn2", "judge_score/math"}) {
    ASSERT_TRUE(resumed.count(metric)) << metric;
    EXPECT_EQ(resumed[metric]["value"], reference[metric]["value"]) << metric;
    EXPECT_EQ(resumed[metric]["n"], reference[metric]["n"]) << metric;
  }
  // Each turn has exactly one rated verdict, and none stored before a kill was asked again.
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM judgements WHERE status = 'ok'"), 160);
  EXPECT_EQ(count_rows(db, "SELECT count(DISTINCT sample_id || '/' || turn) FROM judgements WHERE status = 'ok'"), 160);
  const auto final_counts = judge.stats(true)["prompt_counts"];
  for (const auto& [prompts, counts] : at_kill)
    for (const auto& p : prompts) EXPECT_EQ(final_counts.value(p, 0), counts.value(p, 0)) << p;
  EXPECT_GT(at_kill.front().first.size(), 0u);    // the first kill landed with verdicts stored
  EXPECT_LT(at_kill.back().first.size(), 160u);   // and the last before the judge was done
}

} // namespace
} // namespace keval
