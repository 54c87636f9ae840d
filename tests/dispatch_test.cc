// The dispatch stage's one stream: with a backend whose stream holds one request back (a slow
// answer), the rest of the run goes on around it: no barrier at the end of a task, a dialogue's
// next turn and its judge requests start as soon as that sample's answers are in, and scores are
// still stored in dataset order.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <set>

#include "dispatch.h"
#include "support/cli.h"

namespace keval {
namespace {

// What the fake streams saw, in order: "submit KEY", "answer KEY" (KEY: task/id/turn, judge
// requests prefixed "judge ").
using Log = std::vector<std::string>;

// Answers every request at the next poll, except the one whose key is `held`, which it answers
// only once `release_after` others have been answered (a slow request among fast ones).
class HeldStream final : public RequestStream {
public:
  HeldStream(size_t slots, std::string prefix, std::string reply, std::string held, size_t release_after, Log& log)
      : m_slots(slots), m_prefix(std::move(prefix)), m_reply(std::move(reply)), m_held(std::move(held)),
        m_release_after(release_after), m_log(log) {}
  size_t free_slots() const override { return m_in_flight.size() < m_slots ? m_slots - m_in_flight.size() : 0; }
  size_t in_flight() const override { return m_in_flight.size(); }
  void submit(Request request) override {
    m_log.push_back("submit " + m_prefix + request.key);
    m_in_flight.push_back(std::move(request));
  }
  void poll(double, const std::function<void(Request, Response)>& on_response) override {
    std::deque<Request> still;
    std::vector<Request> done;
    for (auto& r : m_in_flight) {
      if (r.key == m_held && m_answered < m_release_after) still.push_back(std::move(r));
      else done.push_back(std::move(r));
    }
    m_in_flight = std::move(still);
    for (auto& r : done) {
      ++m_answered;
      m_log.push_back("answer " + m_prefix + r.key);
      Response response;
      response.text = m_reply;
      on_response(std::move(r), std::move(response));
    }
  }

private:
  size_t m_slots;
  std::string m_prefix, m_reply, m_held;
  size_t m_release_after;
  Log& m_log;
  std::deque<Request> m_in_flight;
  size_t m_answered = 0;
};

class HeldBackend final : public Backend {
public:
  HeldBackend(std::string prefix, std::string reply, std::string held, size_t release_after, Log& log)
      : m_prefix(std::move(prefix)), m_reply(std::move(reply)), m_held(std::move(held)), m_release_after(release_after),
        m_log(log) {}
  std::string kind() const override { return "held"; }
  bool supports_loglikelihood(std::string_view) const override { return false; }
  void answer(std::span<const Request>, const std::function<void(size_t, Response)>&) override {
    ADD_FAILURE() << "the run asks through its stream, never in batches";
  }
  std::unique_ptr<RequestStream> open_stream(size_t concurrency) override {
    return std::make_unique<HeldStream>(concurrency, m_prefix, m_reply, m_held, m_release_after, m_log);
  }

private:
  std::string m_prefix, m_reply, m_held;
  size_t m_release_after;
  Log& m_log;
};

size_t position(const Log& log, const std::string& line) {
  for (size_t i = 0; i < log.size(); ++i)
    if (log[i] == line) return i;
  ADD_FAILURE() << "never happened: " << line;
  return log.size();
}

struct Fixture {
  testing::ScratchDir dir;
  TaskRegistry registry{KevalPaths{testing::source_dir() + "/tasks", testing::source_dir() + "/datasets"}};
  Store store{(dir / "k.db"), StoreAccess::create};
  Fixture() {
    RunRecord run;
    run.id = "0123456789ab";
    run.name = "stream";
    run.backend = "held";
    run.config = nlohmann::json::object();
    run.config_hash = std::string(64, 'a');
    run.keval_version = "0.1.0";
    run.status = "running";
    run.created_at = utc_now_iso8601();
    store.create_run(run);
  }
  DispatchTask task(const std::string& name, AskMode mode, bool judged = false) {
    DispatchTask t;
    t.config = registry.find_task(name);
    t.mode = mode;
    t.scorer = make_scorer(t.config->scorer, t.config->scorer_options);
    if (judged) t.judge = make_judge_protocol(*t.config->judge, registry.judge_data(*t.config));
    return t;
  }
  std::vector<std::string> scored_ids(const std::string& task) {
    std::vector<std::string> ids;
    StoreReader reader(store.path());
    reader.for_each_raw_score("0123456789ab", task, [&](const RawScoreRow& row) { ids.emplace_back(row.sample_id); });
    return ids;
  }
};

TEST(Dispatch, ASlowRequestHoldsUpNoOtherTask) {
  Fixture f;
  Log log;
  // The first sample of the first task answers only after 30 other requests have been answered.
  HeldBackend model("", "정답은 A입니다.", "kobest_copa/1/0", 30, log);
  std::vector<DispatchTask> tasks;
  tasks.push_back(f.task("kobest_copa", AskMode::generate));
  tasks.push_back(f.task("kobest_boolq", AskMode::generate));
  DispatchOptions options;
  options.run_id = "0123456789ab";
  options.limit = 20;
  options.chunk_size = 8;  // several chunks per task: no barrier between them either
  Progress progress(40, false);
  CommitPacer writes(f.store, 64);
  const DispatchCounts counts =
      dispatch_run(f.registry, f.store, writes, progress, tasks, options, DispatchEndpoint{&model, {}, 4}, std::nullopt);
  writes.flush();
  EXPECT_EQ(counts.n_failed, 0);
  // The held request went first; the whole second task was sent before it came back, while
  // the other three slots kept turning.
  EXPECT_EQ(log.front(), "submit kobest_copa/1/0");
  const size_t answered = position(log, "answer kobest_copa/1/0");
  size_t boolq_sent = 0;
  for (size_t i = 0; i < answered; ++i) boolq_sent += log[i].rfind("submit kobest_boolq/", 0) == 0;
  EXPECT_GE(boolq_sent, 10u);
  // Every sample scored, in dataset order, whatever order the answers came in.
  const auto copa = f.scored_ids("kobest_copa");
  ASSERT_EQ(copa.size(), 20u);
  EXPECT_EQ(copa.front(), "1");
  EXPECT_EQ(f.scored_ids("kobest_boolq").size(), 20u);
  EXPECT_EQ(std::count_if(log.begin(), log.end(), [](const std::string& l) { return l.rfind("submit", 0) == 0; }), 40);
}

TEST(Dispatch, ADialogueMovesOnAsItsOwnAnswersArriveAndIsJudgedAtOnce) {
  Fixture f;
  Log log;
  // KoMT-Bench's first question (id 81): its first turn is slow.
  HeldBackend model("", "하와이 여행기를 한국어로 썼습니다.", "komt_bench/81/0", 6, log);
  HeldBackend judge("judge ", "평가: 좋습니다. [[7]]", "", 0, log);
  std::vector<DispatchTask> tasks;
  tasks.push_back(f.task("komt_bench", AskMode::dialogue, true));
  DispatchOptions options;
  options.run_id = "0123456789ab";
  options.limit = 6;
  Progress progress(24, false);
  CommitPacer writes(f.store, 64);
  const DispatchCounts counts = dispatch_run(f.registry, f.store, writes, progress, tasks, options,
                                             DispatchEndpoint{&model, {}, 2}, DispatchEndpoint{&judge, {}, 2});
  writes.flush();
  EXPECT_EQ(counts.n_failed, 0);
  EXPECT_EQ(counts.n_judge_failed, 0);
  const size_t slow = position(log, "answer komt_bench/81/0");
  // While the first question's first turn was out, the second question went through both turns
  // and its judge: turn 2 right after turn 1, the verdicts right after turn 2.
  EXPECT_LT(position(log, "submit komt_bench/82/1"), slow);
  EXPECT_LT(position(log, "submit judge komt_bench/82/0"), slow);
  EXPECT_LT(position(log, "submit judge komt_bench/82/1"), slow);
  EXPECT_LT(position(log, "answer komt_bench/81/0"), position(log, "submit komt_bench/81/1"));
  EXPECT_EQ(f.store.load_judgements("0123456789ab", "komt_bench").size(), 12u);
  const auto ids = f.scored_ids("komt_bench");
  ASSERT_EQ(ids.size(), 6u);
  EXPECT_EQ(ids.front(), "81");  // stored first though scored last
  for (const auto& s : f.store.load_scores("0123456789ab", "komt_bench")) {
    EXPECT_EQ(s.status, "scored") << s.sample_id;
    EXPECT_DOUBLE_EQ(s.score.at("values").at("judge_score_no_penalty").get<double>(), 7.0) << s.sample_id;
  }
}

} // namespace
} // namespace keval
