// The report in a real browser: headless Chromium loads the leaderboard with #selftest (the page
// clicks a score column's header and writes what the table then holds, and how its wide tables
// scroll, into the DOM), dumps the DOM, and takes a screenshot kept under build/test-artifacts/.
// A task page with answers that are script payloads is loaded too (its samples come from data
// files, on demand): nothing of them may run. And Hangul set in the site's stylesheet must render
// as glyphs, not as the empty boxes of a missing font (Debian: fonts-noto-cjk).
//
// The test installs nothing: without Chromium (scripts/setup.sh installs it) it is skipped, and
// ctest counts it as skipped (SKIP_REGULAR_EXPRESSION in tests/report.cmake), never as passed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>
#ifdef KEVAL_HAVE_ZLIB
#include <zlib.h>
#endif

#include "support/cli.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::write_file;

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return name;
  }
  return "";
}

// A PNG screenshot as 8-bit gray levels (Chromium writes 8-bit RGB or RGBA, not interlaced).
struct GrayImage {
  size_t width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

#ifdef KEVAL_HAVE_ZLIB
uint32_t big_endian(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

// Decodes `png` or says why it cannot (in `why`).
GrayImage read_png(const std::string& png, std::string& why) {
  GrayImage image;
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    why = "not a PNG file";
    return image;
  }
  int depth = 0, color = 0, interlace = 0;
  std::string compressed;
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t length = big_endian(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (at + 12 + length > png.size()) break;
    if (type == "IHDR") {
      image.width = big_endian(png, at + 8);
      image.height = big_endian(png, at + 12);
      depth = uint8_t(png[at + 16]);
      color = uint8_t(png[at + 17]);
      interlace = uint8_t(png[at + 20]);
    } else if (type == "IDAT") {
      compressed += png.substr(at + 8, length);
    }
    at += 12 + length;
  }
  const size_t channels = color == 2 ? 3 : color == 6 ? 4 : color == 0 ? 1 : color == 4 ? 2 : 0;
  if (depth != 8 || channels == 0 || interlace != 0 || image.width == 0 || image.height == 0) {
    why = "unsupported PNG (depth " + std::to_string(depth) + ", color type " + std::to_string(color) + ")";
    return GrayImage{};
  }
  const size_t stride = image.width * channels;
  std::vector<uint8_t> raw((stride + 1) * image.height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()) != Z_OK ||
      raw_size != raw.size()) {
    why = "corrupt PNG data";
    return GrayImage{};
  }
  // Undo the per-row filters (PNG spec, section 9).
  std::vector<uint8_t> previous(stride, 0), row(stride);
  image.pixels.resize(image.width * image.height);
  for (size_t y = 0; y < image.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= channels ? row[x - channels] : 0, b = previous[x], c = x >= channels ? previous[x - channels] : 0;
      int predicted = 0;
      switch (filter) {
      case 1: predicted = a; break;
      case 2: predicted = b; break;
      case 3: predicted = (a + b) / 2; break;
      case 4: {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        break;
      }
      default: break;
      }
      row[x] = uint8_t(in[x] + predicted);
    }
    for (size_t x = 0; x < image.width; ++x) {
      const uint8_t* p = &row[x * channels];
      image.pixels[y * image.width + x] = channels >= 3 ? uint8_t((p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000) : p[0];
    }
    previous.swap(row);
  }
  return image;
}
#endif

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

std::string html_unescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {{"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"}, {"&gt;", ">"},
                                                          {"&nbsp;", " "}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) s.replace(at, std::strlen(from), to);
  }
  return s;
}

class BrowserFixture : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    s_chromium = find_chromium();
    if (s_chromium.empty()) return;
    s_dir = new ScratchDir();
    const std::string db = *s_dir / "k.db";
    // Three random runs on every sample (different seeds, so columns order them differently),
    // and a replay run on 40 samples (a run on a subset) whose answers are payloads.
    for (int seed : {1, 2, 3})
      ASSERT_EQ(run_keval("run --backend random --seed " + std::to_string(seed) + " --tasks kobest,korquad_v1 --no-progress --name seed-" +
                          std::to_string(seed) + " --db " + db)
                    .exit_code,
                0);
    auto r = run_keval("samples --json --task korquad_v1 --limit 40");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string replay;
    std::stringstream ss(r.out);
    for (std::string line; std::getline(ss, line);) {
      if (line.empty()) continue;
      auto s = nlohmann::json::parse(line);
      replay += nlohmann::json{{"task", "korquad_v1"}, {"id", s["id"]},
                               {"response", "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
                                            "<script>document.title='pwned'</script></textarea>"}}
                    .dump() +
                "\n";
    }
    write_file(*s_dir / "payload.jsonl", replay);
    auto run = run_keval("run --backend replay --responses " + *s_dir / "payload.jsonl" +
                         " --tasks korquad_v1 --limit 40 --no-progress --name payload --db " + db);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    auto report = run_keval("report --db " + db + " --out " + *s_dir / "site");
    ASSERT_EQ(report.exit_code, 0) << report.err;
  }
  static void TearDownTestSuite() {
    delete s_dir;
    s_dir = nullptr;
  }
  void SetUp() override {
    if (s_chromium.empty())
      GTEST_SKIP() << "no browser: chromium is not installed (scripts/setup.sh installs it with the Korean fonts)";
  }

  // Runs headless Chromium with the given mode flags on a URL; returns its stdout.
  static std::string chromium(const std::string& flags, const std::string& url) {
    ScratchDir profile, io;
    // --no-sandbox: Chromium's sandbox refuses to start as root, and the pages are our own files.
    const std::string cmd = "timeout 120 " + s_chromium +
                            " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
                            "--disable-component-update --disable-sync --user-data-dir=" +
                            shell_quote(profile.path().string()) + " " + flags + " " + shell_quote(url) + " >" + io / "out" +
                            " 2>" + io / "err";
    const int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << cmd << "\n" << slurp(io.path() / "err");
    return slurp(io.path() / "out");
  }
  static std::string url(const std::string& page) { return "file://" + (s_dir->path() / "site" / page).string(); }

  static inline ScratchDir* s_dir = nullptr;
  static inline std::string s_chromium;
};

TEST_F(BrowserFixture, LeaderboardRendersAndSortsOnClick) {
  const std::string dom = chromium("--dump-dom", url("index.html#selftest"));
  const std::regex pre("<pre id=\"selftest-result\">([^<]*)</pre>");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, pre)) << "the page's self-test did not run:\n" << dom.substr(0, 2000);
  const auto result = nlohmann::json::parse(html_unescape(m[1].str()));
  EXPECT_EQ(result["rows"], 3);                      // one row per full run
  ASSERT_FALSE(result["column"].is_null()) << result;
  EXPECT_EQ(result["direction"], "descending");
  ASSERT_EQ(result["values"].size(), 3u);
  // After the click the column is sorted, best first, runs without a value last.
  std::vector<double> values;
  bool seen_null = false;
  for (const auto& v : result["values"]) {
    if (v.is_null()) {
      seen_null = true;
      continue;
    }
    EXPECT_FALSE(seen_null) << "a value after an empty cell: " << result;
    values.push_back(v.get<double>());
  }
  EXPECT_TRUE(std::is_sorted(values.rbegin(), values.rend())) << result;
  // Ranks follow the sorted column: the first row is ranked 1, ranks never decrease.
  EXPECT_EQ(result["ranks"][0], "1") << result;
  // The DOM Chromium dumped holds the rows in that order.
  const size_t board = dom.find("id=\"board\"");
  ASSERT_NE(board, std::string::npos);
  const std::string table = dom.substr(board, dom.find("</table>", board) - board);
  const std::regex row("<tr data-run=\"([0-9a-f]+)\"");
  std::vector<std::string> order;
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row); it != std::sregex_iterator(); ++it)
    order.push_back((*it)[1].str());
  EXPECT_EQ(nlohmann::json(order), result["order"]);

  // The run on a subset is in its own table, unranked; in the table of every task it is last.
  const size_t partial = dom.find("id=\"partial-board\"");
  ASSERT_NE(partial, std::string::npos);
  EXPECT_EQ(count(dom.substr(partial, dom.find("</table>", partial) - partial), "<tr data-run="), 1u);
  const size_t all = dom.find("id=\"all-board\"");
  ASSERT_NE(all, std::string::npos);
  const std::string all_table = dom.substr(all, dom.find("</table>", all) - all);
  const size_t last_row = all_table.rfind("<tr data-run=");
  EXPECT_NE(all_table.find("data-partial=\"1\"", last_row), std::string::npos) << all_table.substr(last_row, 300);
  EXPECT_EQ(count(all_table, "data-partial=\"1\""), 1u);

  // A screenshot for people to look at (kept as a test artifact).
  std::filesystem::create_directories(KEVAL_ARTIFACT_DIR);
  const std::string shot = std::string(KEVAL_ARTIFACT_DIR) + "/leaderboard.png";
  std::filesystem::remove(shot);
  chromium("--screenshot=" + shell_quote(shot) + " --window-size=1280,900 --hide-scrollbars", url("index.html"));
  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
  std::fprintf(stderr, "screenshot: %s\n", shot.c_str());
}

TEST_F(BrowserFixture, WideTablesScrollInsteadOfBeingCut) {
  // In a narrow window the table of every task is wider than its box: the box scrolls sideways,
  // and the page itself stays as wide as the window (nothing is cut off at its edge).
  const std::string dom = chromium("--dump-dom --window-size=600,900", url("index.html#selftest"));
  const std::regex pre("<pre id=\"selftest-result\">([^<]*)</pre>");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, pre)) << dom.substr(0, 2000);
  const auto result = nlohmann::json::parse(html_unescape(m[1].str()));
  EXPECT_LE(result["page_width"].get<int>(), result["window_width"].get<int>()) << result;
  bool all_board = false;
  for (const auto& box : result["scroll"]) {
    EXPECT_EQ(box["overflow_x"], "auto") << box;
    if (box["table"] == "all-board") {
      all_board = true;
      EXPECT_GT(box["scroll_width"].get<int>(), box["client_width"].get<int>()) << box;
    }
  }
  EXPECT_TRUE(all_board) << result;
}

TEST_F(BrowserFixture, HangulRendersAsGlyphsNotBoxes) {
  // The same line twice in the site's own stylesheet: Hangul, and as many code points that no
  // font has (unassigned U+0378), which the browser draws as its missing-glyph box. Without a
  // Korean font the Hangul is drawn as those same boxes, and the two screenshots are the same.
  const std::string hangul = "한국어 평가", boxes = "\u0378\u0378\u0378 \u0378\u0378";
  std::vector<std::string> shots;
  for (const auto& [name, line] : {std::pair<std::string, std::string>{"hangul", hangul}, {"boxes", boxes}}) {
    write_file(s_dir->path() / "site" / (name + ".html"),
               "<!DOCTYPE html><html lang=\"ko\"><head><meta charset=\"utf-8\"><link rel=\"stylesheet\" "
               "href=\"assets/site.css\"></head><body style=\"margin:0;padding:0\"><div style=\"font-size:64px;"
               "line-height:1.2;padding:16px\">" + line + "</div></body></html>");
    std::filesystem::create_directories(KEVAL_ARTIFACT_DIR);
    const std::string shot = std::string(KEVAL_ARTIFACT_DIR) + "/font-" + name + ".png";
    std::filesystem::remove(shot);
    chromium("--screenshot=" + shell_quote(shot) + " --window-size=600,200 --hide-scrollbars", url(name + ".html"));
    shots.push_back(slurp(shot));
    ASSERT_FALSE(shots.back().empty()) << shot;
  }
  const std::string advice = std::string("Hangul renders as the missing-glyph boxes: no Korean font (Debian: fonts-noto-cjk). "
                                         "Screenshots in ") + KEVAL_ARTIFACT_DIR;
  EXPECT_NE(shots[0], shots[1]) << advice;
#ifdef KEVAL_HAVE_ZLIB
  std::string why;
  const GrayImage glyphs = read_png(shots[0], why);
  ASSERT_TRUE(why.empty()) << why;
  const GrayImage reference = read_png(shots[1], why);
  ASSERT_TRUE(why.empty()) << why;
  ASSERT_EQ(glyphs.pixels.size(), reference.pixels.size());
  size_t ink = 0, reference_ink = 0, differ = 0;
  for (size_t i = 0; i < glyphs.pixels.size(); ++i) {
    const bool a = glyphs.pixels[i] < 128, b = reference.pixels[i] < 128;
    ink += a;
    reference_ink += b;
    differ += a != b;
  }
  // Five Hangul syllables at 64px are thousands of dark pixels, mostly where the boxes are not.
  EXPECT_GT(ink, 2000u) << "hardly any Hangul was drawn";
  EXPECT_GT(reference_ink, 0u) << "the missing-glyph reference drew nothing";
  EXPECT_GT(differ, std::max(ink, reference_ink) / 2) << advice;
  std::fprintf(stderr, "Hangul: %zu dark pixels, missing-glyph boxes: %zu, differing: %zu\n", ink, reference_ink, differ);
#endif
}

TEST_F(BrowserFixture, SampleBrowserReadsPagesOnDemand) {
  // Page 101 of korquad_v1: samples 2,500 to 2,524, in data/korquad_v1/50.js; the page reads
  // only that file (and the index), and shows those samples.
  const std::string dom = chromium("--dump-dom", url("tasks/korquad_v1.html#page=101"));
  const std::string index = slurp(s_dir->path() / "site/data/korquad_v1/index.js");
  const auto ids = nlohmann::json::parse(index.substr(index.find('(') + 1, index.rfind(");") - index.find('(') - 1))["ids"];
  ASSERT_GT(ids.size(), 2525u);
  const std::regex article("<article class=\"sample\" data-sample=\"([^\"]*)\"");
  std::vector<std::string> shown;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), article); it != std::sregex_iterator(); ++it)
    shown.push_back(html_unescape((*it)[1].str()));
  ASSERT_EQ(shown.size(), 25u) << dom.substr(0, 3000);
  for (size_t i = 0; i < shown.size(); ++i) EXPECT_EQ(shown[i], ids[2500 + i].get<std::string>());
  EXPECT_NE(dom.find("src=\"../data/korquad_v1/50.js\""), std::string::npos);
  EXPECT_EQ(dom.find("src=\"../data/korquad_v1/0.js\""), std::string::npos);
  EXPECT_NE(dom.find("page 101 of"), std::string::npos);
}

TEST_F(BrowserFixture, SampleBrowserShowsPayloadsAsText) {
  const std::string dom = chromium("--dump-dom", url("tasks/korquad_v1.html"));
  // The browser rendered the samples from the data files...
  EXPECT_EQ(count(dom, "<article class=\"sample\""), 25u) << dom.substr(0, 3000);  // the first page of 25
  // ...with the payload as visible text, and none of it ran.
  EXPECT_NE(dom.find("&lt;img src=x onerror="), std::string::npos);
  EXPECT_NE(dom.find("&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;/textarea&gt;"), std::string::npos);
  EXPECT_EQ(dom.find("data-pwned"), dom.find("data-pwned','1')"));  // only inside the text, never as an attribute
  EXPECT_EQ(dom.find("<title>pwned"), std::string::npos);
  EXPECT_EQ(dom.find("<img"), std::string::npos);
  std::filesystem::create_directories(KEVAL_ARTIFACT_DIR);
  chromium("--screenshot=" + shell_quote(std::string(KEVAL_ARTIFACT_DIR) + "/task-korquad_v1.png") +
               " --window-size=1280,900 --hide-scrollbars",
           url("tasks/korquad_v1.html"));
}

} // namespace
} // namespace keval
