#include "extract_choice.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>

#include "normalize.h"
#include "text.h"

namespace keval {
namespace {

using std::string_view;

// --- code points over valid UTF-8 (the text has been through NFC, so it is valid) -------------

char32_t cp_at(string_view s, size_t pos, size_t* len = nullptr) {
  if (pos >= s.size()) {
    if (len) *len = 0;
    return 0;
  }
  const auto b0 = static_cast<unsigned char>(s[pos]);
  size_t n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  if (pos + n > s.size()) n = s.size() - pos;
  char32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + k]) & 0x3F);
  if (len) *len = n;
  return cp;
}

// The code point ending just before `pos` (0 at the start); `start` receives its position.
char32_t cp_before(string_view s, size_t pos, size_t* start = nullptr) {
  if (pos == 0) {
    if (start) *start = 0;
    return 0;
  }
  size_t p = pos - 1;
  while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
  if (start) *start = p;
  return cp_at(s, p);
}

bool is_syllable(char32_t c) { return c >= 0xAC00 && c <= 0xD7A3; }
bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_alnum(char32_t c) { return is_ascii_digit(c) || is_ascii_alpha(c); }

// ①…⑩, ⑴…⑽, ❶…❿, ➀…➉, ➊…➓ → 0-based index.
int circled_index(char32_t c) {
  if (c >= 0x2460 && c <= 0x2469) return static_cast<int>(c - 0x2460);
  if (c >= 0x2474 && c <= 0x247D) return static_cast<int>(c - 0x2474);
  if (c >= 0x2776 && c <= 0x277F) return static_cast<int>(c - 0x2776);
  if (c >= 0x2780 && c <= 0x2789) return static_cast<int>(c - 0x2780);
  if (c >= 0x278A && c <= 0x2793) return static_cast<int>(c - 0x278A);
  return -1;
}

// `ordinal`: not a label but "세 번째 보기", "the third option", which name a choice by position.
enum class LabelKind { latin, digit, hangul, circled, other, ordinal };

// Enclosed Hangul: ㉠–㉭ (circled jamo), ㈀–㈍ (parenthesised jamo) and the plain compatibility
// jamo ㄱ…ㅎ are one label; so are ㉮–㉻, ㈎–㈛ and the syllables 가…하. Models asked for ㉠ often
// answer "ㄱ" or "(ㄱ)", asked for 가 sometimes "㉮".
constexpr std::array<char32_t, 14> k_compat_jamo = {0x3131, 0x3134, 0x3137, 0x3139, 0x3141, 0x3142, 0x3145,
                                                    0x3147, 0x3148, 0x314A, 0x314B, 0x314C, 0x314D, 0x314E};
constexpr std::array<char32_t, 14> k_ganada = {U'가', U'나', U'다', U'라', U'마', U'바', U'사',
                                               U'아', U'자', U'차', U'카', U'타', U'파', U'하'};

LabelKind kind_of(string_view label) {
  size_t len = 0;
  const char32_t c = cp_at(label, 0, &len);
  if (label.empty()) return LabelKind::other;
  if (len == label.size()) {
    if (is_ascii_alpha(c)) return LabelKind::latin;
    if (circled_index(c) >= 0) return LabelKind::circled;
    if (is_syllable(c)) return LabelKind::hangul;
  }
  if (std::all_of(label.begin(), label.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return LabelKind::digit;
  return LabelKind::other;
}

// Particles and copulas that may follow a label or a choice inside its word ("3번이", "B입니다").
enum class Particle { none, copula, subject, topic, object, conjunction, other };

struct ParticleWord {
  string_view text;
  Particle kind;
};

// Longest first, so "이라고" wins over "이라" and "이".
constexpr std::array k_particles = {
    ParticleWord{"이라는", Particle::other},  ParticleWord{"이라고", Particle::other},
    ParticleWord{"입니다", Particle::copula}, ParticleWord{"이에요", Particle::copula},
    ParticleWord{"이예요", Particle::copula}, ParticleWord{"라는", Particle::other},
    ParticleWord{"라고", Particle::other},    ParticleWord{"이라", Particle::other},
    ParticleWord{"예요", Particle::copula},   ParticleWord{"이다", Particle::copula},
    ParticleWord{"이요", Particle::copula},   ParticleWord{"이야", Particle::copula},
    ParticleWord{"으로", Particle::other},    ParticleWord{"이며", Particle::other},
    ParticleWord{"이고", Particle::other},    ParticleWord{"이나", Particle::conjunction},
    ParticleWord{"이랑", Particle::conjunction}, ParticleWord{"랑", Particle::conjunction},
    ParticleWord{"임", Particle::copula},     ParticleWord{"요", Particle::copula},
    ParticleWord{"야", Particle::copula},     ParticleWord{"이", Particle::subject},
    ParticleWord{"가", Particle::subject},    ParticleWord{"은", Particle::topic},
    ParticleWord{"는", Particle::topic},      ParticleWord{"을", Particle::object},
    ParticleWord{"를", Particle::object},     ParticleWord{"와", Particle::conjunction},
    ParticleWord{"과", Particle::conjunction}, ParticleWord{"나", Particle::conjunction},
    ParticleWord{"라", Particle::other},      ParticleWord{"로", Particle::other},
    ParticleWord{"인", Particle::other},      ParticleWord{"일", Particle::other},
    ParticleWord{"에", Particle::other},      ParticleWord{"의", Particle::other},
    ParticleWord{"도", Particle::other},      ParticleWord{"만", Particle::subject},
};

// After a choice's text only a copula or a few endings are accepted: "예를 들어" is not "예".
constexpr std::array<string_view, 14> k_choice_endings = {
    "이라고", "입니다", "이에요", "라고", "예요", "이다", "이요", "으로", "이며", "이고", "임", "요", "로", "인"};

// Phrases that introduce an answer. Korean ones must start a word ("오답은 A" is not "답은 A").
struct Cue {
  string_view text;
  bool english;
};
constexpr std::array k_cues = {
    Cue{"정답", false},   Cue{"대답", false},    Cue{"답변", false},       Cue{"답", false},  Cue{"번호", false},
    Cue{"선택", false},   Cue{"것은", false},    Cue{"아니라", false},     Cue{"아니고", false},
    Cue{"answer", true},  Cue{"option is", true}, Cue{"choice is", true},
    Cue{"i choose", true}, Cue{"i would choose", true}, Cue{"i'd choose", true}, Cue{"i will choose", true},
    Cue{"i'll choose", true}, Cue{"i select", true}, Cue{"i would select", true}, Cue{"i'll go with", true},
    Cue{"i would go with", true}, Cue{"i'd go with", true},
    // Hedged English: the model still commits to one option.
    Cue{"i think", true}, Cue{"i believe", true}, Cue{"i'd say", true}, Cue{"i would say", true},
    Cue{"i guess", true}, Cue{"i lean toward", true}, Cue{"i lean towards", true}, Cue{"leaning toward", true},
    Cue{"leaning towards", true}, Cue{"going with", true}, Cue{"i pick", true}, Cue{"i'll pick", true},
    Cue{"my pick is", true}, Cue{"most likely", true}, Cue{"probably", true}, Cue{"best guess is", true},
    Cue{"continuation is", true}, Cue{"ending is", true}, Cue{"pick is", true}, Cue{"i'd pick", true},
    Cue{"i would pick", true}, Cue{"correct one is", true}, Cue{"right one is", true}, Cue{"best one is", true},
};

// Words skipped between a cue and its answer.
constexpr std::array<string_view, 7> k_cue_particles = {"으로는", "은요", "는요", "으로", "은", "는", "이"};
constexpr std::array<string_view, 11> k_korean_fillers = {"다음과 같습니다", "다음과 같다", "바로", "아마도", "아마",
                                                          "번호", "선택지", "보기", "옵션", "최종적으로", "결국"};
constexpr std::array<string_view, 31> k_english_fillers = {
    "is", "would", "will", "should", "must", "be", "probably", "likely", "definitely", "clearly",
    "option", "choice", "letter", "number", "to", "this", "that", "the", "question", "problem",
    "correct", "right", "final", "best", "for", "of", "it's", "it", "most", "answer", "go with"};

// After a label in English prose: a verb and, within a few words, a word that endorses the
// option ("B seems most plausible", "C looks right") and none that rejects it.
constexpr std::array<string_view, 14> k_english_verbs = {"is", "seems", "appears", "looks", "sounds", "would",
                                                          "should", "must", "makes", "fits", "matches", "remains",
                                                          "stands", "best"};
constexpr std::array<string_view, 16> k_english_endorsements = {
    "correct", "right", "plausible", "likely", "best", "true", "accurate", "answer", "sense", "reasonable",
    "valid", "appropriate", "fits", "matches", "probable", "sound"};
constexpr std::array<string_view, 14> k_english_rejections = {
    "not", "n't", "wrong", "incorrect", "false", "unlikely", "implausible", "less", "least", "neither",
    "nor", "eliminate", "ruled", "except"};

// Per-option verdicts ("A: 틀림", "③ - 옳음", "B → ❌"). Negative forms first: "맞지 않" starts like "맞".
constexpr std::array<string_view, 22> k_negative_verdicts = {
    "틀림", "틀리", "틀렸", "틀립", "오답", "거짓", "옳지 않", "옳지않", "맞지 않", "맞지않", "부적절", "적절하지 않",
    "아님", "아닙", "✗", "✘", "❌", "×", "x", "incorrect", "wrong", "false"};
constexpr std::array<string_view, 16> k_positive_verdicts = {
    "맞음", "맞다", "맞습", "맞아", "맞는", "옳음", "옳다", "옳습", "옳은", "정답", "참", "적절", "o", "○",
    "⭕", "correct"};
constexpr std::array<string_view, 4> k_check_marks = {"✓", "✔", "✅", "true"};

// The choice that says the question cannot be answered (KoBBQ's "알 수 없음"), and what a model
// writes when it picks it in its own words ("주어진 정보만으로는 알 수 없습니다").
constexpr std::array<string_view, 14> k_unknown_choice_marks = {
    "알 수 없", "모름", "모른다", "정답 없음", "답 없음", "확정할 수 없", "판단할 수 없", "판단 불가", "찾을 수 없",
    "unknown", "cannot be determined", "can't be determined", "not enough information", "undetermined"};
constexpr std::array<string_view, 29> k_unknown_phrases = {
    "알 수 없", "알 수가 없", "알 수는 없", "판단할 수 없", "판단하기 어렵", "판단이 어렵", "단정할 수 없", "단정하기 어렵",
    "확정할 수 없", "확정하기 어렵", "특정할 수 없", "특정하기 어렵", "결정할 수 없", "정보가 부족", "정보가 충분하지 않",
    "정보가 없", "언급되어 있지 않", "언급되지 않", "나와 있지 않", "명시되어 있지 않", "명시되지 않", "불분명",
    "cannot be determined", "can't be determined", "not enough information", "cannot tell", "can't tell",
    "insufficient information", "undetermined"};

// Korean ordinals naming a choice by position, and the nouns that may follow them.
struct OrdinalWord {
  string_view text;
  int index;  // -1: the last choice
};
constexpr std::array k_korean_ordinals = {
    OrdinalWord{"첫 번째", 0}, OrdinalWord{"첫번째", 0},   OrdinalWord{"첫째", 0},     OrdinalWord{"두 번째", 1},
    OrdinalWord{"두번째", 1},  OrdinalWord{"둘째", 1},     OrdinalWord{"세 번째", 2},  OrdinalWord{"세번째", 2},
    OrdinalWord{"셋째", 2},    OrdinalWord{"네 번째", 3},  OrdinalWord{"네번째", 3},   OrdinalWord{"넷째", 3},
    OrdinalWord{"다섯 번째", 4}, OrdinalWord{"다섯번째", 4}, OrdinalWord{"다섯째", 4}, OrdinalWord{"마지막", -1}};
constexpr std::array k_english_ordinals = {
    OrdinalWord{"first", 0}, OrdinalWord{"second", 1}, OrdinalWord{"third", 2}, OrdinalWord{"fourth", 3},
    OrdinalWord{"fifth", 4}, OrdinalWord{"1st", 0},    OrdinalWord{"2nd", 1},   OrdinalWord{"3rd", 2},
    OrdinalWord{"4th", 3},   OrdinalWord{"5th", 4},    OrdinalWord{"last", -1}};
constexpr std::array<string_view, 9> k_choice_nouns = {"보기", "선택지", "선지", "항목", "옵션", "문항", "문장", "답", "것"};
constexpr std::array<string_view, 6> k_english_choice_nouns = {"option", "choice", "one", "answer", "statement",
                                                               "alternative"};

constexpr std::array<string_view, 4> k_negations = {"아니", "아닙", "아님", "않"};

constexpr std::array<string_view, 25> k_refusals = {
    "답변할 수 없", "답할 수 없", "대답할 수 없", "선택할 수 없", "고를 수 없", "판단할 수 없",
    "모르겠", "답변을 드릴 수 없", "답변드릴 수 없", "답변 드릴 수 없", "말씀드릴 수 없", "답을 드릴 수 없",
    "도와드릴 수 없", "죄송", "cannot answer", "can't answer", "won't answer",
    "unable to", "i cannot", "i can't", "i'm sorry", "i am sorry", "as an ai", "cannot determine",
    "not able to"};

struct Opener {
  string_view open;
  string_view close;
};
constexpr std::array k_openers = {
    Opener{"(", ")"}, Opener{"[", "]"}, Opener{"{", "}"}, Opener{"<", ">"}, Opener{"\"", "\""},
    Opener{"'", "'"}, Opener{"“", "”"}, Opener{"‘", "’"}, Opener{"「", "」"}, Opener{"『", "』"},
    Opener{"【", "】"}, Opener{"〈", "〉"}, Opener{"《", "》"}};

struct LabelForm {
  std::string text;
  std::string lower;
  int index;
  LabelKind kind;
};

struct ChoiceForm {
  std::string text;  // normalised, ASCII lower-cased
  int index;
};

struct Hit {
  int index = -1;
  size_t begin = 0;
  size_t end = 0;  // after the label and its closing bracket
  LabelKind kind = LabelKind::other;
  bool bracketed = false;
  bool lowercase = false;  // a lower-case letter standing for an upper-case label
};

struct Suffix {
  bool ok = false;
  bool beon = false;  // "번", "번째" or "항" followed the label
  Particle particle = Particle::none;
  size_t end = 0;
};

// Drops markdown emphasis, which models wrap answers in ("**B**", "`C`").
std::string prepare(string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '*' && c != '`') out += c;
  return out;
}

std::string ascii_lower(string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

struct Options {
  std::vector<LabelForm> labels;   // longest first; aliases (ㄱ for ㉠) share the index
  std::vector<ChoiceForm> choices; // longest first, so longer texts mask shorter ones inside them
  std::vector<char32_t> first_cps; // see collect_first_code_points
  int unknown_index = -1;          // the "cannot be determined" choice, -1 when none
  int count = 0;
  bool circled_labels = false;
};

// ㉠ labels also answer to ㄱ and ㈀; 가 labels to ㉮ and ㈎; ㉮ labels to ㈎ and 가.
void add_hangul_aliases(Options& opt, const std::string& label, int index) {
  size_t len = 0;
  const char32_t c = cp_at(label, 0, &len);
  if (len != label.size()) return;
  auto add = [&](char32_t alias, LabelKind kind) {
    const std::string t = text::encode(alias);
    opt.labels.push_back({t, t, index, kind});
  };
  if (c >= 0x3260 && c <= 0x326D) {
    add(k_compat_jamo[c - 0x3260], LabelKind::other);
    add(0x3200 + (c - 0x3260), LabelKind::other);
  } else if (c >= 0x326E && c <= 0x327B) {
    add(k_ganada[c - 0x326E], LabelKind::hangul);
    add(0x320E + (c - 0x326E), LabelKind::other);
  } else if (const auto* it = std::find(k_ganada.begin(), k_ganada.end(), c); it != k_ganada.end()) {
    add(0x326E + static_cast<char32_t>(it - k_ganada.begin()), LabelKind::other);
    add(0x320E + static_cast<char32_t>(it - k_ganada.begin()), LabelKind::other);
  }
}

// The first code points a label, bracket or ordinal can start with, sorted: label_at is tried at
// every position, and most positions start none of them.
void collect_first_code_points(Options& opt) {
  auto add = [&](string_view s) {
    if (s.empty()) return;
    const char32_t c = cp_at(s, 0);
    opt.first_cps.push_back(c);
    if (is_ascii_alpha(c)) {
      opt.first_cps.push_back(c | 0x20);
      opt.first_cps.push_back(c & ~char32_t{0x20});
    }
  };
  for (const auto& l : opt.labels) add(l.text);
  for (const auto& o : k_openers) add(o.open);
  for (const auto& o : k_korean_ordinals) add(o.text);
  for (const auto& o : k_english_ordinals) add(o.text);
  for (char d = '1'; d <= '9'; ++d) opt.first_cps.push_back(static_cast<char32_t>(d));  // "3번째", "3번" for ③
  std::sort(opt.first_cps.begin(), opt.first_cps.end());
  opt.first_cps.erase(std::unique(opt.first_cps.begin(), opt.first_cps.end()), opt.first_cps.end());
}

// The labels and choices in the forms the extractor compares, built once per distinct option set.
Options build_options(const std::vector<std::string>& labels, const std::vector<std::string>& choice_texts) {
  Options opt;
  opt.count = static_cast<int>(labels.empty() ? choice_texts.size() : labels.size());
  bool all_circled = !labels.empty();
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string t = prepare(normalize::for_compare(labels[i]));
    if (t.empty()) {
      all_circled = false;
      continue;
    }
    const LabelKind kind = kind_of(t);
    if (kind != LabelKind::circled) all_circled = false;
    add_hangul_aliases(opt, t, static_cast<int>(i));
    std::string lower = ascii_lower(t);
    opt.labels.push_back({std::move(t), std::move(lower), static_cast<int>(i), kind});
  }
  opt.circled_labels = all_circled;
  std::stable_sort(opt.labels.begin(), opt.labels.end(),
                   [](const LabelForm& a, const LabelForm& b) { return a.text.size() > b.text.size(); });
  collect_first_code_points(opt);
  for (size_t i = 0; i < choice_texts.size() && static_cast<int>(i) < opt.count; ++i) {
    std::string t = ascii_lower(prepare(normalize::for_compare(choice_texts[i])));
    if (t.empty()) continue;
    for (auto mark : k_unknown_choice_marks)
      if (t.find(mark) != std::string::npos) {
        // Two "unknown" choices would make the phrase ambiguous: then there is none.
        opt.unknown_index = opt.unknown_index == -1 ? static_cast<int>(i) : -2;
        break;
      }
    // Both spellings of "no" are in common use; a model asked for one writes the other.
    if (t == "아니오") opt.choices.push_back({"아니요", static_cast<int>(i)});
    if (t == "아니요") opt.choices.push_back({"아니오", static_cast<int>(i)});
    opt.choices.push_back({std::move(t), static_cast<int>(i)});
  }
  if (opt.unknown_index < 0) opt.unknown_index = -1;
  std::stable_sort(opt.choices.begin(), opt.choices.end(),
                   [](const ChoiceForm& a, const ChoiceForm& b) { return a.text.size() > b.text.size(); });
  return opt;
}

class Extractor {
public:
  Extractor(string_view response, const Options& opt)
      : m_labels(opt.labels),
        m_choices(opt.choices),
        m_first_cps(opt.first_cps),
        m_unknown_index(opt.unknown_index),
        m_count(opt.count),
        m_circled_labels(opt.circled_labels) {
    // Per line, so a label alone on the first line stays recognisable as such.
    const std::string raw = prepare(text::trim(response));
    size_t start = 0;
    while (start <= raw.size()) {
      size_t nl = raw.find('\n', start);
      if (nl == std::string::npos) nl = raw.size();
      std::string line = normalize::for_compare(string_view(raw).substr(start, nl - start));
      if (!line.empty()) {
        if (!m_text.empty()) m_text += '\n';
        m_text += line;
      }
      start = nl + 1;
    }
    m_lower = ascii_lower(m_text);

  }

  ChoiceExtraction run() {
    if (m_text.empty() || m_count <= 0) return {};
    std::vector<std::pair<int, std::string>> asserted;
    std::vector<std::pair<int, std::string>> copulas;
    std::vector<std::pair<int, std::string>> verdicts;
    scan_verdicts(verdicts);  // first: it marks "C: 정답" so that scan_cues does not read it as a cue
    scan_cues(asserted);
    scan_labels(asserted, copulas);
    scan_choice_assertions(asserted);
    if (auto r = decide(asserted)) return *r;
    if (auto r = decide_verdicts(verdicts)) return *r;
    if (auto r = decide(copulas)) return *r;
    if (auto r = start_label(true)) return *r;
    if (auto r = decide(choice_copulas())) return *r;
    if (auto r = unknown_phrase()) return *r;
    if (refusal()) return {};
    if (auto r = start_label(false)) return *r;
    return unique_choice_text();
  }

private:
  // Unanimous → that choice; none → keep looking; several different → unparsed (-1).
  static std::optional<ChoiceExtraction> decide(const std::vector<std::pair<int, std::string>>& found) {
    if (found.empty()) return std::nullopt;
    for (const auto& f : found)
      if (f.first != found.front().first) return ChoiceExtraction{};
    return ChoiceExtraction{found.front().first, found.front().second};
  }

  // Hot: called at every position for every label, particle and cue. The first byte rejects
  // almost every candidate before a full comparison.
  bool at(size_t pos, string_view word) const { return matches(m_text, pos, word); }
  bool at_lower(size_t pos, string_view word) const { return matches(m_lower, pos, word); }
  static bool matches(const std::string& s, size_t pos, string_view word) {
    if (word.empty()) return true;
    if (pos >= s.size() || s.size() - pos < word.size() || s[pos] != word[0]) return false;
    return std::char_traits<char>::compare(s.data() + pos + 1, word.data() + 1, word.size() - 1) == 0;
  }
  // True when the code point at `pos` does not continue a Hangul word.
  bool syllable_boundary(size_t pos) const { return pos >= m_text.size() || !is_syllable(cp_at(m_text, pos)); }
  bool alpha_boundary(size_t pos) const { return pos >= m_text.size() || !is_ascii_alpha(cp_at(m_text, pos)); }

  size_t skip_spaces(size_t pos) const {
    while (pos < m_text.size() && (m_text[pos] == ' ' || m_text[pos] == '\n')) ++pos;
    return pos;
  }

  // A label at `pos`, optionally in brackets. `check_before`: the label must start a word.
  std::optional<Hit> label_at(size_t pos, bool check_before) const {
    if (pos >= m_text.size()) return std::nullopt;
    {
      const char32_t first = cp_at(m_text, pos);
      if (circled_index(first) < 0 && !std::binary_search(m_first_cps.begin(), m_first_cps.end(), first))
        return std::nullopt;
    }
    Hit hit;
    hit.begin = pos;
    size_t p = pos;
    string_view close;
    for (const auto& o : k_openers) {
      if (at(p, o.open)) {
        close = o.close;
        p += o.open.size();
        hit.bracketed = true;
        break;
      }
    }
    if (check_before) {
      const char32_t prev = cp_before(m_text, pos);
      if (is_ascii_alnum(prev)) return std::nullopt;
      if (!hit.bracketed && is_syllable(prev)) return std::nullopt;
    }
    if (!hit.bracketed)
      if (auto o = ordinal_at(p, hit)) return o;
    size_t len = 0;
    const char32_t c = cp_at(m_text, p, &len);
    size_t label_len = 0;
    if (const int ci = circled_index(c); ci >= 0) {
      if (ci >= m_count) return std::nullopt;
      hit.index = ci;
      hit.kind = LabelKind::circled;
      label_len = len;
    } else {
      for (const auto& l : m_labels) {
        if (at(p, l.text)) {
          hit.index = l.index;
          hit.kind = l.kind;
          label_len = l.text.size();
          break;
        }
        if (l.kind == LabelKind::latin && at_lower(p, l.lower)) {
          hit.index = l.index;
          hit.kind = l.kind;
          hit.lowercase = true;
          label_len = l.text.size();
          break;
        }
      }
      // With circled labels a plain digit names the same choice ("3번" for ③).
      if (hit.index < 0 && m_circled_labels && c >= '1' && c <= '9') {
        const int d = static_cast<int>(c - '1');
        if (d < m_count) {
          hit.index = d;
          hit.kind = LabelKind::digit;
          label_len = 1;
        }
      }
    }
    if (hit.index < 0) return std::nullopt;
    size_t q = p + label_len;
    const char32_t next = cp_at(m_text, q);
    const char32_t last = cp_before(m_text, q);
    if (is_ascii_alpha(last) && is_ascii_alnum(next)) return std::nullopt;  // "Apple", "B2"
    if (is_ascii_digit(last)) {
      if (is_ascii_digit(next)) return std::nullopt;  // "2023"
      if ((next == '.' || next == ',') && is_ascii_digit(cp_at(m_text, q + 1))) return std::nullopt;  // "3.5"
      if (check_before) {  // "0.3": the digit continues a number
        size_t prev_start = 0;
        const char32_t prev = cp_before(m_text, p, &prev_start);
        if ((prev == '.' || prev == ',') && is_ascii_digit(cp_before(m_text, prev_start))) return std::nullopt;
      }
    }
    if (hit.bracketed) {
      if (at(q, "번") && !at(q, "번째")) q += 3;  // "「3번」"
      if (!at(q, close)) return std::nullopt;
      q += close.size();
    }
    hit.end = q;
    return hit;
  }

  // What follows a label inside its word: an optional 번/항 and one particle, then a word end.
  Suffix suffix_at(size_t pos, const Hit& hit) const {
    Suffix s;
    size_t p = pos;
    if (hit.kind == LabelKind::ordinal) {
      s.beon = true;
    } else if (at(p, "번째")) {  // "3번째 보기"
      s.beon = true;
      p += 6;
    } else if (at(p, "번") || at(p, "항")) {
      s.beon = true;
      p += 3;
    } else if (at(p, " 번") && !at(p, " 번째") && (hit.kind == LabelKind::digit || hit.kind == LabelKind::circled) &&
               syllable_boundary(p + 4)) {
      s.beon = true;  // "3 번": a space typed before the counter
      p += 4;
    }
    bool matched = false;
    for (const auto& pw : k_particles) {
      if (!at(p, pw.text) || !syllable_boundary(p + pw.text.size())) continue;
      // "3일" is a date; "B일 것" or "3번일 것" is an answer.
      if (pw.text == "일" && hit.kind == LabelKind::digit && !s.beon) continue;
      s.particle = pw.kind;
      p += pw.text.size();
      matched = true;
      break;
    }
    if (!matched && !syllable_boundary(p)) return s;  // "3개", "B형", "1번째"
    s.ok = true;
    s.end = p;
    return s;
  }

  // Whether the next two words deny what precedes ("정답이 아닙니다", "맞지 않습니다").
  bool negated_after(size_t pos) const {
    size_t p = pos;
    int spaces = 0;
    while (p < m_text.size()) {
      const char ch = m_text[p];
      if (ch == '.' || ch == '\n' || ch == ',' || ch == '!' || ch == '?') break;
      if (ch == ' ' && ++spaces > 1) break;
      if (at(p, "아니면")) return false;  // "B 아니면 C" offers a choice, it denies nothing
      for (auto n : k_negations)
        if (at(p, n)) return true;
      if (at_lower(p, "not ") || at_lower(p, "n't")) return true;
      size_t len = 1;
      cp_at(m_text, p, &len);
      p += len;
    }
    return false;
  }

  // Cue-led assertions: "정답은 X", "답: X번", "The answer is X", "아니라 X".
  void scan_cues(std::vector<std::pair<int, std::string>>& out) const {
    for (const auto& cue : k_cues) {
      const std::string& hay = cue.english ? m_lower : m_text;
      for (size_t pos = hay.find(cue.text); pos != std::string::npos; pos = hay.find(cue.text, pos + 1)) {
        const char32_t prev = cp_before(m_text, pos);
        if (cue.english ? is_ascii_alpha(prev) : is_syllable(prev)) continue;
        if (m_verdict_words.count(pos)) continue;  // "C: 정답" is a verdict, not "정답: D" on the next line
        size_t p = pos + cue.text.size();
        if (cue.english && !alpha_boundary(p)) continue;  // "answers", "answered"
        bool negated = false;
        p = skip_cue_fillers(p, cue.english, negated);
        if (negated) continue;
        read_cued_answer(p, out, cue.text == "아니라" || cue.text == "아니고");
      }
    }
  }

  size_t skip_cue_fillers(size_t p, bool english, bool& negated) const {
    for (int round = 0; round < 12; ++round) {
      const size_t before = p;
      while (p < m_text.size() && (m_text[p] == ' ' || m_text[p] == '\n' || m_text[p] == ':' || m_text[p] == '=' ||
                                   m_text[p] == '-' || m_text[p] == '>' || m_text[p] == ','))
        ++p;
      for (string_view arrow : {"→", "⇒", "—", "–"})
        if (at(p, arrow)) p += arrow.size();
      if (!english) {
        for (auto w : k_cue_particles)
          if (at(p, w) && syllable_boundary(p + w.size())) {
            p += w.size();
            break;
          }
        for (auto w : k_korean_fillers)
          if (at(p, w)) {
            p += w.size();
            break;
          }
      } else {
        if (at_lower(p, "not") && alpha_boundary(p + 3)) {
          negated = true;
          p += 3;
        }
        for (auto w : k_english_fillers)
          if (at_lower(p, w) && alpha_boundary(p + w.size())) {
            p += w.size();
            break;
          }
      }
      if (p == before) break;
    }
    return p;
  }

  // `contrastive`: after "아니라"/"아니고", where "반어법이 아니라 역설법이 쓰였다" names the answer
  // with a subject particle.
  void read_cued_answer(size_t p, std::vector<std::pair<int, std::string>>& out, bool contrastive = false) const {
    if (auto hit = label_at(p, false)) {
      const Suffix s = suffix_at(hit->end, *hit);
      if (!s.ok || s.particle == Particle::subject || s.particle == Particle::topic ||
          s.particle == Particle::object)
        return;  // "정답은 1번이 아니라", "것은 A가 B보다"
      if (hit->lowercase && s.end < m_text.size() && m_text[s.end] == ' ' &&
          is_ascii_alpha(cp_at(m_text, skip_spaces(s.end))))
        return;  // "the answer is a matter of …"
      if (negated_after(s.end)) return;  // "정답은 1번 아님"
      if (english_rejection_after(s.end)) return;  // "I think B is wrong"
      out.emplace_back(hit->index, m_text.substr(hit->begin, s.end - hit->begin));
      read_continuation(s, out);
      return;
    }
    for (const auto& c : m_choices) {
      if (!at_lower(p, c.text)) continue;
      size_t end = choice_end(p, c);
      if (end == std::string::npos && contrastive)
        for (string_view w : {"이", "가"})
          if (at(p + c.text.size(), w) && syllable_boundary(p + c.text.size() + w.size())) end = p + c.text.size() + w.size();
      if (end == std::string::npos) continue;
      if (negated_after(end)) return;
      out.emplace_back(c.index, m_text.substr(p, c.text.size()));
      return;
    }
  }

  // "정답은 A 또는 B", "A와 B": a second label after the first makes the assertion a conflict.
  void read_continuation(const Suffix& s, std::vector<std::pair<int, std::string>>& out) const {
    size_t p = s.end;
    if (s.particle != Particle::conjunction) {
      p = skip_spaces(p);
      bool joined = false;
      for (string_view w : {",", "/", "&", "또는", "혹은", "아니면", "or ", "and "}) {
        if (at_lower(p, w)) {
          p += w.size();
          joined = true;
          break;
        }
      }
      if (!joined) return;
    }
    p = skip_spaces(p);
    auto hit = label_at(p, false);
    if (!hit) return;
    const Suffix s2 = suffix_at(hit->end, *hit);
    if (!s2.ok || (s2.particle != Particle::none && s2.particle != Particle::copula)) return;
    const size_t after = skip_spaces(s2.end);
    if (after < m_text.size() && is_ascii_alpha(cp_at(m_text, after))) return;  // "B and A is wrong"
    out.emplace_back(hit->index, m_text.substr(hit->begin, s2.end - hit->begin));
  }

  // Where a choice's text ends when it stands as a word at `p`, or npos. `mention`: also accept
  // a conjunction ("재무상태표와 손익계산서" mentions both).
  size_t choice_end(size_t p, const ChoiceForm& c, bool mention = false) const {
    size_t end = p + c.text.size();
    const char32_t last = cp_before(m_lower, end);
    const char32_t next = cp_at(m_text, end);
    if (is_ascii_alnum(last) && is_ascii_alnum(next)) return std::string::npos;
    if (is_syllable(last) && is_syllable(next)) {
      bool ok = false;
      for (auto e : k_choice_endings)
        if (at(end, e) && syllable_boundary(end + e.size())) {
          end += e.size();
          ok = true;
          break;
        }
      if (!ok && mention)
        for (string_view e : {"이랑", "이나", "와", "과", "랑", "나", "도"})
          if (at(end, e) && syllable_boundary(end + e.size())) {
            end += e.size();
            ok = true;
            break;
          }
      // Case particles mark a mention too, but not after a one-syllable choice ("예를 들어").
      if (!ok && mention && c.text.size() > 3)
        for (string_view e : {"이", "가", "은", "는", "을", "를", "의", "에서", "에"})
          if (at(end, e) && syllable_boundary(end + e.size())) {
            end += e.size();
            ok = true;
            break;
          }
      if (!ok) return std::string::npos;
    }
    return end;
  }

  bool choice_starts_word(size_t p, const ChoiceForm& c) const {
    const char32_t prev = cp_before(m_text, p);
    const char32_t first = cp_at(c.text, 0);
    if (is_ascii_alnum(first) && is_ascii_alnum(prev)) return false;
    if (is_syllable(first) && is_syllable(prev)) return false;
    return true;
  }

  // Text-led assertions: "부산이 정답입니다", "현금흐름표가 맞습니다", "우산을 챙겼다를 고르겠습니다".
  void scan_choice_assertions(std::vector<std::pair<int, std::string>>& asserted) const {
    for (const auto& c : m_choices) {
      for (size_t pos = m_lower.find(c.text); pos != std::string::npos; pos = m_lower.find(c.text, pos + 1)) {
        if (!choice_starts_word(pos, c)) continue;
        const size_t end = pos + c.text.size();
        size_t after = end;
        Particle particle = Particle::none;
        for (const auto& [w, kind] : {std::pair<string_view, Particle>{"이", Particle::subject}, {"가", Particle::subject},
                                      {"을", Particle::object}, {"를", Particle::object}, {"은", Particle::topic},
                                      {"는", Particle::topic}}) {
          if (at(end, w) && syllable_boundary(end + w.size())) {
            after = end + w.size();
            particle = kind;
            break;
          }
        }
        if (particle == Particle::none && is_syllable(cp_before(m_text, end)) && !syllable_boundary(end)) continue;
        if (const size_t word_end = asserting_word(after, particle, true))
          if (!negated_after(word_end) && !questioning(word_end)) asserted.emplace_back(c.index, m_text.substr(pos, c.text.size()));
      }
    }
  }

  // Label-led assertions ("3번이 정답", "B is correct") and copulas ("3번입니다").
  void scan_labels(std::vector<std::pair<int, std::string>>& asserted,
                   std::vector<std::pair<int, std::string>>& copulas) const {
    size_t len = 1;
    for (size_t pos = 0; pos < m_text.size(); pos += len) {
      cp_at(m_text, pos, &len);
      if (len == 0) break;
      auto hit = label_at(pos, true);
      if (!hit) continue;
      const Suffix s = suffix_at(hit->end, *hit);
      if (!s.ok) continue;
      // A bare Hangul syllable is usually a word ("나는", "다음"): it must be bracketed or numbered.
      if (hit->kind == LabelKind::hangul && !hit->bracketed && !s.beon) continue;
      const std::string span = m_text.substr(hit->begin, s.end - hit->begin);
      if (s.particle == Particle::copula) {
        if (!hit->lowercase) copulas.emplace_back(hit->index, span);
        continue;
      }
      // "B일 것 같습니다", "3번인 듯합니다", "C일 가능성이 높습니다": hedged, but a choice.
      if (s.particle == Particle::other && !hit->lowercase && (at(s.end - 3, "일") || at(s.end - 3, "인"))) {
        if (hedged_korean(s.end) && !clause_negated(s.end)) copulas.emplace_back(hit->index, span);
        continue;
      }
      if (s.particle != Particle::none && s.particle != Particle::subject && s.particle != Particle::topic &&
          s.particle != Particle::object)
        continue;
      if (const size_t word_end = asserting_word(s.end, s.particle, hit->lowercase)) {
        if (!negated_after(word_end) && !questioning(word_end)) {
          asserted.emplace_back(hit->index, span);
          // "②, ④가 답입니다": the listed label is asserted too, which makes a conflict.
          if (const auto listed = label_listed_before(hit->begin)) asserted.emplace_back(listed->index, "");
        }
      }
    }
  }

  // A label right before `pos` joined to it by "," or "/" ("②, ④가"), or nothing.
  std::optional<Hit> label_listed_before(size_t pos) const {
    size_t q = pos;
    while (q > 0 && m_text[q - 1] == ' ') --q;
    if (q == 0 || (m_text[q - 1] != ',' && m_text[q - 1] != '/')) return std::nullopt;
    --q;
    while (q > 0 && m_text[q - 1] == ' ') --q;
    for (size_t back = 1; back <= 12 && back <= q; ++back) {
      const size_t start = q - back;
      if ((static_cast<unsigned char>(m_text[start]) & 0xC0) == 0x80) continue;  // inside a code point
      auto hit = label_at(start, true);
      if (!hit || hit->kind == LabelKind::ordinal) continue;
      size_t end = hit->end;
      if (at(end, "번")) end += 3;
      if (end == q) return hit;
    }
    return std::nullopt;
  }

  // After "X가 " / "X " / "X를 ": the end of a word asserting X ("정답", "맞", "옳", "선택",
  // "is correct"), or 0.
  size_t asserting_word(size_t pos, Particle particle, bool lowercase_hit) const {
    if (particle == Particle::none) {
      for (string_view w : {" is correct", " is the correct", " is the answer", " is the right", " is right",
                            " is the best", " would be correct", " is true"})
        if (at_lower(pos, w)) return pos + w.size();
      if (!lowercase_hit)
        if (const size_t end = english_endorsement(pos)) return end;
    }
    const size_t p = skip_blanks(pos);  // an assertion does not continue on the next line
    if (p == pos && particle == Particle::none) return 0;  // "B정답" is not a phrase
    if (particle == Particle::object) {
      for (string_view w : {"선택", "고르", "고릅", "골라", "골랐", "택하", "택합"})
        if (at(p, w)) return p + w.size();
      return 0;
    }
    // "A는 옳다", "①은 적절한 설명이다": a topic marks commentary on each option, not a choice;
    // only "X는 정답" counts.
    // "B가 제일 적절해 보입니다", "확실히 맞습니다": an adverb may come first.
    size_t p_word = p;
    for (string_view adverb : {"가장 ", "제일 ", "더 ", "확실히 ", "분명히 ", "명백히 "})
      if (at(p_word, adverb)) {
        p_word += adverb.size();
        break;
      }
    if (particle != Particle::topic)
      for (string_view w : {"맞", "옳", "올바른 답", "올바르", "선택", "적절", "알맞", "타당", "그럴듯", "가능성이 가장 높",
                            "가능성이 높", "가능성", "유력", "정확", "자연스럽"})
        if (at(p_word, w)) return p_word + w.size();
    if (at(p_word, "정답")) return p_word + 6;
    if (at(p_word, "답")) {
      const size_t q = p_word + 3;
      if (syllable_boundary(q) || at(q, "이") || at(q, "입") || at(q, "은") || at(q, "으")) return q;
    }
    return 0;
  }

  // "A가 맞는지 보면", "B가 정답일까": weighing an option is not choosing it.
  bool questioning(size_t pos) const {
    for (string_view w : {"는지", "은지", "인지", "을지", "일지", "을까", "일까", "는가", "나요", "습니까", "?"})
      if (at(pos, w)) return true;
    // "맞는지": the assertion word may end mid-word ("맞" + "는지"); look one syllable on.
    size_t len = 0;
    if (is_syllable(cp_at(m_text, pos, &len)))
      for (string_view w : {"는지", "을까", "는가", "나요", "습니까"})
        if (at(pos, w) || at(pos + len, w)) return true;
    return false;
  }

  // A label at the very start: the whole response (`whole`) or followed by punctuation.
  std::optional<ChoiceExtraction> start_label(bool whole) const {
    size_t p = 0;
    while (p < m_text.size() && (m_text[p] == '#' || m_text[p] == '>' || m_text[p] == ' ')) ++p;
    auto hit = label_at(p, false);
    if (!hit) return std::nullopt;
    const Suffix s = suffix_at(hit->end, *hit);
    if (!s.ok) return std::nullopt;
    // "첫째, …" opens a list: an ordinal at the start counts only as the whole answer.
    if (hit->kind == LabelKind::ordinal && !whole) return std::nullopt;
    const ChoiceExtraction found{hit->index, m_text.substr(hit->begin, s.end - hit->begin)};
    const bool bare_suffix = s.particle == Particle::none || s.particle == Particle::copula;
    if (!bare_suffix) return std::nullopt;
    size_t rest = s.end;
    while (rest < m_text.size() && std::string_view(".!。 \n").find(m_text[rest]) != std::string_view::npos) ++rest;
    if (whole) {
      if (rest >= m_text.size()) return found;
      return std::nullopt;
    }
    if (s.end >= m_text.size()) return found;
    const char next = m_text[s.end];
    if (s.beon || s.particle == Particle::copula) return found;
    if (next == '\n') return found;
    if (std::string_view(".):,]-/;").find(next) != std::string_view::npos) {
      if (hit->kind == LabelKind::digit || hit->kind == LabelKind::latin || hit->kind == LabelKind::hangul) {
        if (enumerated(*hit, next)) return std::nullopt;  // "1. 먼저 … 2. 그다음 …" is a list, not an answer
      }
      return found;
    }
    if (next == ' ') {
      if (enumerated(*hit, ' ')) return std::nullopt;  // "① 비유법 ② 반어법 …" lists the options
      if (hit->bracketed) return found;  // "(C) 설명"
      // "B 재무상태표" or "B (손익계산서)", not "A good …", "A + B" or "2 + 3 = 5".
      const char32_t after = cp_at(m_text, s.end + 1);
      if (!hit->lowercase && (hit->kind == LabelKind::latin || hit->kind == LabelKind::circled) &&
          (after >= 0x80 || after == '('))
        return found;
    }
    return std::nullopt;
  }

  // Whether the next label also appears as a list item ("\n2." after "1.").
  bool enumerated(const Hit& hit, char punct) const {
    const int next = hit.index + 1;
    if (next >= m_count) return false;
    std::string next_label;
    if (hit.kind == LabelKind::circled) {
      next_label = text::encode(static_cast<char32_t>(0x2460 + next));
    } else {
      for (const auto& l : m_labels)
        if (l.index == next && (next_label.empty() || l.kind == hit.kind)) next_label = l.text;
    }
    if (next_label.empty()) return false;
    const std::string item = next_label + punct;
    for (size_t pos = m_text.find(item, 1); pos != std::string::npos; pos = m_text.find(item, pos + 1)) {
      const char prev = m_text[pos - 1];
      if (prev == ' ' || prev == '\n') return true;
    }
    return false;
  }


  // "세 번째 보기", "두번째 선택지", "셋째", "마지막 보기", "3번째" (with letter labels), "the third option".
  std::optional<Hit> ordinal_at(size_t p, Hit hit) const {
    const auto b = static_cast<unsigned char>(m_text[p]);
    size_t end = 0;
    int index = -2;
    bool needs_noun = false;
    if (b >= 0x80) {
      for (const auto& o : k_korean_ordinals)
        if (at(p, o.text)) {
          end = p + o.text.size();
          index = o.index;
          needs_noun = o.index < 0;  // "마지막" alone is "finally"
          break;
        }
    } else if (is_ascii_digit(b)) {
      // Digit labels read "3번째" themselves; with other labels it still names the third choice.
      size_t q = p;
      while (q < m_text.size() && is_ascii_digit(static_cast<unsigned char>(m_text[q]))) ++q;
      const size_t r = at(q, " 번째") ? q + 7 : q;
      if (q - p == 1 && b != '0' && at(r, "번째") && !std::any_of(m_labels.begin(), m_labels.end(), [](const LabelForm& l) {
            return l.kind == LabelKind::digit;
          })) {
        end = r + 6;
        index = b - '1';
      }
    } else {
      for (const auto& o : k_english_ordinals)
        if (at_lower(p, o.text) && alpha_boundary(p + o.text.size())) {
          end = p + o.text.size();
          index = o.index;
          needs_noun = true;  // "first, …", "second" alone are not choices
          break;
        }
    }
    if (index == -2) return std::nullopt;
    if (b >= 0x80 || is_ascii_digit(b)) {
      // What follows inside the word ("첫째날" is a day, not a choice) is suffix_at's to check.
      bool noun = false;
      if (at(end, " ") || is_syllable(cp_at(m_text, end))) {
        const size_t q = at(end, " ") ? end + 1 : end;
        for (auto n : k_choice_nouns)
          if (at(q, n) && (n != "것" || q > end)) {
            end = q + n.size();
            noun = true;
            break;
          }
      }
      if (needs_noun && !noun) return std::nullopt;
    } else {
      bool noun = false;
      if (at(end, " "))
        for (auto n : k_english_choice_nouns)
          if (at_lower(end + 1, n) && alpha_boundary(end + 1 + n.size())) {
            end = end + 1 + n.size();
            noun = true;
            break;
          }
      // "The answer is the third." ends the sentence; "first, …" opens a list and "second" a clause.
      const bool sentence_end = end >= m_text.size() || m_text[end] == '.' || m_text[end] == '!' || m_text[end] == ')';
      if (needs_noun && !noun && !sentence_end) return std::nullopt;
    }
    if (index < 0) index = m_count - 1;
    if (index >= m_count) return std::nullopt;
    hit.index = index;
    hit.kind = LabelKind::ordinal;
    hit.end = end;
    return hit;
  }

  // The ASCII words after `pos` up to the end of the clause, lower-cased, at most `limit`.
  std::vector<string_view> english_words(size_t pos, size_t limit) const {
    std::vector<string_view> words;
    size_t p = pos;
    while (words.size() < limit && p < m_lower.size()) {
      while (p < m_lower.size() && m_lower[p] == ' ') ++p;
      const size_t begin = p;
      while (p < m_lower.size() && (is_ascii_alpha(static_cast<unsigned char>(m_lower[p])) || m_lower[p] == '\''))
        ++p;
      if (p == begin) break;
      words.push_back(string_view(m_lower).substr(begin, p - begin));
    }
    return words;
  }

  static bool rejects(const std::vector<string_view>& words) {
    for (auto w : words)
      for (auto r : k_english_rejections)
        if (w == r || (r == "n't" && w.size() > 3 && w.substr(w.size() - 3) == "n't")) return true;
    return false;
  }

  // "B is wrong", "C seems unlikely", "A isn't right".
  bool english_rejection_after(size_t pos) const {
    if (pos >= m_text.size() || m_text[pos] != ' ') return false;
    return rejects(english_words(pos, 5));
  }

  // "B seems most plausible", "C looks right", "D is most likely the answer": the end of the
  // endorsing phrase, or 0.
  size_t english_endorsement(size_t pos) const {
    if (pos >= m_text.size() || m_text[pos] != ' ') return 0;
    const auto words = english_words(pos, 7);  // "B seems to be the most appropriate choice"
    if (words.size() < 2) return 0;
    if (std::find(k_english_verbs.begin(), k_english_verbs.end(), words.front()) == k_english_verbs.end()) return 0;
    if (rejects(words)) return 0;
    for (size_t i = 1; i < words.size(); ++i)
      for (auto e : k_english_endorsements)
        if (words[i] == e) return static_cast<size_t>(words[i].data() - m_lower.data()) + words[i].size();
    return 0;
  }

  // After "B일" / "3번인": " 것 같", " 것으로 보", " 듯", " 가능성이 높".
  bool hedged_korean(size_t pos) const {
    for (string_view w : {" 것 같", " 것으로 보", " 것입니다", " 것이다", " 듯", " 가능성이 높", " 가능성이 가장 높",
                          " 확률이 높", "듯"})
      if (at(pos, w)) return true;
    return false;
  }

  // A negation before the clause ends: "B일 것 같지는 않습니다".
  bool clause_negated(size_t pos) const {
    for (size_t p = pos; p < m_text.size() && p < pos + 40; ++p) {
      const char ch = m_text[p];
      if (ch == '.' || ch == '\n' || ch == ',' || ch == '!' || ch == '?') break;
      for (auto n : k_negations)
        if (at(p, n)) return true;
    }
    return false;
  }

  // Per-option verdicts: "A: 틀림, B: 틀림, C: 맞음", "- ① (서울) → ❌", "1번 - 오답", "B는 틀렸고".
  void scan_verdicts(std::vector<std::pair<int, std::string>>& out) {
    size_t len = 1;
    for (size_t pos = 0; pos < m_text.size(); pos += len) {
      cp_at(m_text, pos, &len);
      if (len == 0) break;
      const char32_t prev = cp_before(m_text, pos);
      if (is_syllable(prev) || is_ascii_alnum(prev)) continue;
      auto hit = label_at(pos, true);
      if (!hit) continue;
      if (hit->kind == LabelKind::hangul && !hit->bracketed && !at(hit->end, "번") && !at(hit->end, ":") &&
          !at(hit->end, ")"))
        continue;
      size_t p = hit->end;
      if (at(p, "번")) p += 3;
      // An echo of the option between label and verdict: "A. 재무상태표: 틀림", "① (서울) → ❌".
      const size_t after_label = p;
      if (at(p, ".") || at(p, ")")) ++p;
      p = skip_blanks(p);
      bool echoed = false;
      for (const auto& c : m_choices)
        if (c.index == hit->index && at_lower(p, c.text)) {
          p += c.text.size();
          echoed = true;
          break;
        }
      if (!echoed) p = after_label;
      p = skip_blanks(p);
      if (at(p, "(")) {
        const size_t close = m_text.find(')', p);
        const size_t nl = m_text.find('\n', p);
        if (close != std::string::npos && close < nl && close - p < 80) p = skip_blanks(close + 1);
      }
      bool separated = false;
      for (string_view sep : {":", "-", "→", "⇒", "=>", "=", "|", "–", "—", "은", "는"}) {
        if (at(p, sep)) {
          if ((sep == "은" || sep == "는") && !syllable_boundary(p + sep.size())) break;
          p += sep.size();
          separated = true;
          break;
        }
      }
      p = skip_blanks(p);
      if (at(p, "(") || at(p, "[")) p = skip_blanks(p + 1);
      const int verdict = verdict_at(p);
      if (verdict == 0) continue;
      // Without a separator only a mark counts: "B) 손익계산서 ✅", "① X ② X ③ O".
      const auto first = static_cast<unsigned char>(m_text[p]);
      const bool mark = (first >= 0x80 && !is_syllable(cp_at(m_text, p))) ||
                        ((m_lower[p] == 'o' || m_lower[p] == 'x') && alpha_boundary(p + 1));
      if (!separated && !mark) continue;
      m_verdict_words.insert(p);
      out.emplace_back(verdict > 0 ? hit->index : -1 - hit->index, m_text.substr(hit->begin, hit->end - hit->begin));
    }
  }

  size_t skip_blanks(size_t p) const {
    while (p < m_text.size() && m_text[p] == ' ') ++p;
    return p;
  }

  // +1 a positive verdict at `p`, -1 a negative one, 0 none.
  int verdict_at(size_t p) const {
    auto word_ends = [&](size_t end, string_view w) {
      const auto last = static_cast<unsigned char>(w.back());
      return last >= 0x80 || alpha_boundary(end);
    };
    for (auto w : k_negative_verdicts)
      if (at_lower(p, w) && word_ends(p + w.size(), w)) return -1;
    for (auto w : k_positive_verdicts) {
      if (!at_lower(p, w) || !word_ends(p + w.size(), w)) continue;
      // "참" stands alone or with a copula ("참입니다"), never as "참고".
      if (w == "참" && !syllable_boundary(p + w.size()) && !at(p + w.size(), "입") && !at(p + w.size(), "이") &&
          !at(p + w.size(), "임"))
        continue;
      return negated_after(p + w.size()) ? -1 : 1;  // "C: 정답이 아닐 수도"
    }
    for (auto w : k_check_marks)
      if (at_lower(p, w) && word_ends(p + w.size(), w)) return 1;
    return 0;
  }

  // Several verdicts with exactly one positive: that option. Encoded as index (positive) or
  // -1 - index (negative).
  static std::optional<ChoiceExtraction> decide_verdicts(const std::vector<std::pair<int, std::string>>& found) {
    std::set<int> judged, positive;
    std::string span;
    for (const auto& [code, text] : found) {
      const int index = code >= 0 ? code : -1 - code;
      judged.insert(index);
      if (code >= 0 && positive.insert(index).second) span = text;
    }
    if (judged.size() < 2 || positive.size() != 1) return std::nullopt;
    return ChoiceExtraction{*positive.begin(), span};
  }

  // A choice's text with a copula: "할머니입니다", "이 리뷰는 긍정입니다".
  std::vector<std::pair<int, std::string>> choice_copulas() const {
    std::vector<std::pair<int, std::string>> out;
    std::vector<std::pair<size_t, size_t>> taken;
    for (const auto& c : m_choices) {
      for (size_t pos = m_lower.find(c.text); pos != std::string::npos; pos = m_lower.find(c.text, pos + 1)) {
        const size_t end = pos + c.text.size();
        if (std::any_of(taken.begin(), taken.end(), [&](const auto& r) { return pos < r.second && end > r.first; }))
          continue;
        if (!choice_starts_word(pos, c)) continue;
        size_t q = end;
        if (at(q, " ")) ++q;  // "알 수 없음 입니다"
        for (string_view w : {"입니다", "이다", "이에요", "예요", "임", "이요"}) {
          if (!at(q, w) || !syllable_boundary(q + w.size())) continue;
          taken.emplace_back(pos, end);
          // "1위는 서울이고 2위는 부산입니다" ranks choices, "5번은 광주입니다" says what an option is;
          // neither picks one.
          if (!other_choice_before(pos, c.index) && !labelled_topic_before(pos))
            out.emplace_back(c.index, m_text.substr(pos, c.text.size()));
          break;
        }
      }
    }
    return out;
  }

  // Whether the word before `pos` is a label with a topic particle ("5번은 광주").
  bool labelled_topic_before(size_t pos) const {
    if (pos < 2 || m_text[pos - 1] != ' ') return false;
    size_t begin = pos - 1;
    while (begin > 0 && m_text[begin - 1] != ' ' && m_text[begin - 1] != '\n') --begin;
    const auto hit = label_at(begin, false);
    if (!hit) return false;
    const Suffix s = suffix_at(hit->end, *hit);
    return s.ok && s.particle == Particle::topic && s.end == pos - 1;
  }

  // Whether another choice is mentioned earlier in the sentence that ends at `pos`.
  bool other_choice_before(size_t pos, int index) const {
    size_t begin = pos;
    while (begin > 0 && std::string_view(".!?\n").find(m_text[begin - 1]) == std::string_view::npos) --begin;
    for (const auto& c : m_choices) {
      if (c.index == index) continue;
      for (size_t p = m_lower.find(c.text, begin); p != std::string::npos && p < pos; p = m_lower.find(c.text, p + 1)) {
        if (!choice_starts_word(p, c)) continue;
        // Only a parallel predicate ranks: "서울이고", "서울이며"; "고구려, 백제 중에서" lists.
        const size_t e = p + c.text.size();
        for (string_view w : {"이고", "이며", "이지만", "이자", "이었고", "였고", "고,"})
          if (at(e, w)) return true;
      }
    }
    return false;
  }

  // With a "cannot be determined" choice, a response that says so in its own words picks it.
  std::optional<ChoiceExtraction> unknown_phrase() const {
    if (m_unknown_index < 0) return std::nullopt;
    for (auto w : k_unknown_phrases) {
      const size_t pos = m_lower.find(w);
      if (pos == std::string::npos) continue;
      // "알 수 없는 것은 아니다": a denied unknown is no answer.
      if (negated_after(pos + w.size())) continue;
      return ChoiceExtraction{m_unknown_index, m_text.substr(pos, w.size())};
    }
    return std::nullopt;
  }

  bool refusal() const {
    for (auto r : k_refusals)
      if (m_lower.find(r) != std::string::npos) return true;
    return false;
  }

  // Exactly one choice's text appears as a word (longer texts mask the shorter ones inside them).
  ChoiceExtraction unique_choice_text() const {
    std::vector<std::pair<size_t, size_t>> taken;
    std::set<int> seen;
    std::string matched;
    for (const auto& c : m_choices) {
      for (size_t pos = m_lower.find(c.text); pos != std::string::npos; pos = m_lower.find(c.text, pos + 1)) {
        const size_t end = pos + c.text.size();
        const bool overlaps = std::any_of(taken.begin(), taken.end(),
                                          [&](const auto& r) { return pos < r.second && end > r.first; });
        if (overlaps || !choice_starts_word(pos, c) || choice_end(pos, c, true) == std::string::npos) continue;
        taken.emplace_back(pos, end);
        if (seen.insert(c.index).second) matched = m_text.substr(pos, c.text.size());
      }
    }
    if (seen.size() != 1) return {};
    return {*seen.begin(), matched};
  }

  std::set<size_t> m_verdict_words;  // where scan_verdicts read a verdict ("정답" in "C: 정답")
  const std::vector<LabelForm>& m_labels;
  const std::vector<ChoiceForm>& m_choices;
  const std::vector<char32_t>& m_first_cps;
  const int m_unknown_index;
  const int m_count;
  const bool m_circled_labels;
  std::string m_text;   // normalised response, lines kept
  std::string m_lower;  // the same, ASCII lower-cased (same byte offsets)
};

} // namespace

ChoiceExtraction extract_choice(std::string_view response, const std::vector<std::string>& labels,
                                const std::vector<std::string>& choice_texts) {
  // Samples of a task come in runs with the same options (always the same labels): normalising
  // them again for every response would cost more than reading the response.
  thread_local std::vector<std::string> cached_labels;
  thread_local std::vector<std::string> cached_choices;
  thread_local Options cached;
  thread_local bool filled = false;
  if (!filled || labels != cached_labels || choice_texts != cached_choices) {
    cached = build_options(labels, choice_texts);
    cached_labels = labels;
    cached_choices = choice_texts;
    filled = true;
  }
  return Extractor(response, cached).run();
}

} // namespace keval
